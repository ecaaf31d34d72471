// PeerService: the receiving side of the peer transport, the RaftPeer gRPC
// service. It checks that traffic belongs to this cluster and is addressed
// to this member, then hands messages and snapshots to the node driver's
// raft::MessageHandler.
#ifndef RAFTKV_RPC_PEER_PEER_SERVICE_H_
#define RAFTKV_RPC_PEER_PEER_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"
#include "raft/raftpb.pb.h"
#include "raft/transport.h"
#include "rpc/raft_peer.grpc.pb.h"

namespace raftkv::rpc {

// Thread safety: gRPC calls Stream and InstallSnapshot concurrently from its
// server threads (one per open stream). The service holds no mutable state
// but atomic counters; ordering per peer pair follows from each pair having
// one stream, read by one thread. The handler must be thread safe (it is,
// by its contract) and outlive the server the service is registered on.
// The error a removed member's streams end with (etcd's words).
inline constexpr char kRemovedMessage[] =
    "the member has been permanently removed from the cluster";

class PeerService final : public peerpb::RaftPeer::Service {
 public:
  struct Stats {
    uint64_t batches = 0;   // MessageBatch frames accepted (incl. empty)
    uint64_t messages = 0;  // messages handed to handler->Receive
    uint64_t dropped = 0;   // messages refused (wrong `to`, bad type)
  };

  PeerService(uint64_t id, uint64_t cluster_id, raft::MessageHandler* handler);

  // Hands every message of every batch to handler->Receive, in order.
  // Refuses a batch of another cluster with FAILED_PRECONDITION (ending the
  // stream); drops messages not addressed to this member.
  grpc::Status Stream(grpc::ServerContext* context,
                      grpc::ServerReader<peerpb::MessageBatch>* reader,
                      peerpb::StreamAck* ack) override;

  // BeginSnapshot(first chunk's message), every chunk to the sink, Finish(),
  // then Receive(message); acks ok. On any error acks ok=false with the
  // reason, destroys the sink unfinished and does not call Receive.
  grpc::Status InstallSnapshot(
      grpc::ServerContext* context,
      grpc::ServerReader<peerpb::SnapshotChunk>* reader,
      peerpb::SnapshotAck* ack) override;

  // Answers with members_source()'s serialized kvpb::MemberList
  // (UNAVAILABLE until SetMembership).
  grpc::Status Members(grpc::ServerContext* context,
                       const peerpb::MembersRequest* req,
                       peerpb::MembersResponse* resp) override;

  // Answers hash_source(revision) (UNAVAILABLE until SetHashSource);
  // refuses another cluster's request with FAILED_PRECONDITION.
  grpc::Status HashKV(grpc::ServerContext* context,
                      const peerpb::HashKVRequest* req,
                      peerpb::HashKVResponse* resp) override;
  // REQUIRES: called before the server starts serving.
  void SetHashSource(
      std::function<absl::StatusOr<peerpb::HashKVResponse>(int64_t)> source);
  // Where Members reads the list, and which peers were removed from the
  // cluster: a stream from a removed member is ended with
  // kRemovedMessage, so that it learns of its removal even if it missed the
  // entry. REQUIRES: called before the server starts serving.
  void SetMembership(std::function<std::string()> members_source,
                     std::function<bool(uint64_t)> is_removed);

  Stats stats() const;

 private:
  // FAILED_PRECONDITION naming both clusters, or OK.
  absl::Status CheckCluster(uint64_t cluster_id) const;
  // Whether `m` may be handed to Raft; counts a drop if not.
  bool Acceptable(const raftpb::Message& m);
  absl::Status ReceiveSnapshot(
      grpc::ServerReader<peerpb::SnapshotChunk>* reader);

  const uint64_t id_;
  const uint64_t cluster_id_;
  raft::MessageHandler* const handler_;
  std::function<std::string()> members_source_;
  std::function<bool(uint64_t)> is_removed_;
  std::function<absl::StatusOr<peerpb::HashKVResponse>(int64_t)> hash_source_;

  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_PEER_PEER_SERVICE_H_
