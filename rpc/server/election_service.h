// ElectionService: etcd 3.4's v3election service (rpc/v3election.proto),
// the leader election of etcd's clientv3/concurrency served by the member.
// Like LockService it runs etcd's recipe against this member's own KV,
// Watch and Lease services (recipe_client.h); its keys are ordinary keys,
// shared with `etcdctl elect` and any client-side election:
//
//   - Campaign(name, lease, value) puts "<name>/<lease in lowercase hex>" =
//     value with the lease (a key this lease already has keeps its create
//     revision; a different value is proclaimed) and answers, with the
//     LeaderKey {name, key, create revision, lease}, once every key created
//     before it under "<name>/" is deleted. Lease 0: a 60 s lease is
//     granted, never renewed. When the caller cancels or its deadline
//     passes, the candidate's key is deleted (it resigns).
//   - Proclaim(leader, value) replaces the value if the key still has the
//     LeaderKey's create revision, else fails UNKNOWN "election: not
//     leader".
//   - Leader(name) answers the oldest key under "<name>/", or UNKNOWN
//     "election: no leader".
//   - Observe(name) streams that key-value: at the start (or, without a
//     leader, at the first put under "<name>/"), on every put of the leader
//     key, and again for the next leader once it is deleted. The stream
//     ends OK when an inner call fails, CANCELLED when the caller leaves.
//   - Resign(leader) deletes the key if it still has the LeaderKey's create
//     revision; it succeeds either way.
// Proclaim and Resign without `leader` fail UNKNOWN "\"leader\" field must
// be provided". Errors of the inner calls reach the client as etcd's do
// (RecipeError).
//
// Thread safety: thread-safe; every call blocks on a thread of its own
// (RecipeRunner), never on a gRPC thread.
#ifndef RAFTKV_RPC_SERVER_ELECTION_SERVICE_H_
#define RAFTKV_RPC_SERVER_ELECTION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "rpc/server/recipe_client.h"
#include "rpc/v3election.grpc.pb.h"

namespace raftkv::rpc {

class ElectionService final : public v3electionpb::Election::CallbackService {
 public:
  // As LockService::SetChannel.
  void SetChannel(std::shared_ptr<grpc::Channel> channel) {
    runner_.SetChannel(std::move(channel));
  }

  grpc::ServerUnaryReactor* Campaign(
      grpc::CallbackServerContext* ctx,
      const v3electionpb::CampaignRequest* req,
      v3electionpb::CampaignResponse* resp) override;
  grpc::ServerUnaryReactor* Proclaim(
      grpc::CallbackServerContext* ctx,
      const v3electionpb::ProclaimRequest* req,
      v3electionpb::ProclaimResponse* resp) override;
  grpc::ServerUnaryReactor* Leader(grpc::CallbackServerContext* ctx,
                                   const v3electionpb::LeaderRequest* req,
                                   v3electionpb::LeaderResponse* resp) override;
  grpc::ServerWriteReactor<v3electionpb::LeaderResponse>* Observe(
      grpc::CallbackServerContext* ctx,
      const v3electionpb::LeaderRequest* req) override;
  grpc::ServerUnaryReactor* Resign(grpc::CallbackServerContext* ctx,
                                   const v3electionpb::ResignRequest* req,
                                   v3electionpb::ResignResponse* resp) override;

 private:
  RecipeRunner runner_;
};

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_SERVER_ELECTION_SERVICE_H_
