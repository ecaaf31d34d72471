// Lease: etcd's Lease service. Grant and revoke go through Raft; keep-alive
// and time-to-live are answered by the leader's Lessor (a follower forwards
// them to the leader's client URL); LeaseLeases lists the local table.
#ifndef RAFTKV_RPC_SERVER_LEASE_SERVICE_H_
#define RAFTKV_RPC_SERVER_LEASE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rpc/rpc.grpc.pb.h"
#include "rpc/server/etcd_server.h"

namespace raftkv::rpc {

class LeaseService final : public etcdserverpb::Lease::CallbackService {
 public:
  explicit LeaseService(EtcdServer* server) : server_(server) {}

  grpc::ServerUnaryReactor* LeaseGrant(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::LeaseGrantRequest* req,
      etcdserverpb::LeaseGrantResponse* resp) override;
  grpc::ServerUnaryReactor* LeaseRevoke(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::LeaseRevokeRequest* req,
      etcdserverpb::LeaseRevokeResponse* resp) override;
  grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest,
                          etcdserverpb::LeaseKeepAliveResponse>*
  LeaseKeepAlive(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* LeaseTimeToLive(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::LeaseTimeToLiveRequest* req,
      etcdserverpb::LeaseTimeToLiveResponse* resp) override;
  grpc::ServerUnaryReactor* LeaseLeases(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::LeaseLeasesRequest* req,
      etcdserverpb::LeaseLeasesResponse* resp) override;

  // Renews on the leader, or forwards to it (blocking: call off the gRPC
  // event threads). TTL 0 for an unknown lease.
  absl::StatusOr<etcdserverpb::LeaseKeepAliveResponse> KeepAliveOnce(
      int64_t id);

 private:
  class KeepAliveReactor;
  absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> TimeToLive(
      const etcdserverpb::LeaseTimeToLiveRequest& req);
  // A stub to the current leader's client URL, or Unavailable.
  absl::StatusOr<std::shared_ptr<etcdserverpb::Lease::Stub>> LeaderStub();

  EtcdServer* const server_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<etcdserverpb::Lease::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_SERVER_LEASE_SERVICE_H_
