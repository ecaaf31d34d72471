// The etcd v3 gRPC services raftkv serves on its client URLs: KV,
// Maintenance (Status, Alarm, Defragment, hashes, MoveLeader) and Cluster
// (MemberList, and membership changes). Each method validates, then hands the
// request to EtcdServer and finishes its reactor from EtcdServer's callback; no
// gRPC thread ever waits for Raft.
#ifndef RAFTKV_RPC_SERVER_SERVICES_H_
#define RAFTKV_RPC_SERVER_SERVICES_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "rpc/rpc.grpc.pb.h"
#include "rpc/server/etcd_server.h"

namespace raftkv::rpc {

// absl and gRPC share status code numbering; messages pass unchanged (etcd
// clients match on them).
grpc::Status ToGrpc(const absl::Status& s);

class KvService final : public etcdserverpb::KV::CallbackService {
 public:
  explicit KvService(EtcdServer* server) : server_(server) {}

  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* ctx,
                                  const etcdserverpb::RangeRequest* req,
                                  etcdserverpb::RangeResponse* resp) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* ctx,
                                const etcdserverpb::PutRequest* req,
                                etcdserverpb::PutResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteRange(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::DeleteRangeRequest* req,
      etcdserverpb::DeleteRangeResponse* resp) override;
  grpc::ServerUnaryReactor* Txn(grpc::CallbackServerContext* ctx,
                                const etcdserverpb::TxnRequest* req,
                                etcdserverpb::TxnResponse* resp) override;
  grpc::ServerUnaryReactor* Compact(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::CompactionRequest* req,
      etcdserverpb::CompactionResponse* resp) override;

 private:
  // Proposes `request`; on success moves the applied response of type T
  // into *resp.
  template <typename T>
  grpc::ServerUnaryReactor* Propose(grpc::CallbackServerContext* ctx,
                                    kvpb::InternalRequest request, T* resp);

  EtcdServer* const server_;
};

class MaintenanceService final
    : public etcdserverpb::Maintenance::CallbackService {
 public:
  // `snapshot_dir` holds Snapshot's temporary files (the member's data
  // dir; empty: $TMPDIR or /tmp).
  explicit MaintenanceService(EtcdServer* server, std::string snapshot_dir = "")
      : server_(server), snapshot_dir_(std::move(snapshot_dir)) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx,
                                   const etcdserverpb::StatusRequest* req,
                                   etcdserverpb::StatusResponse* resp) override;
  // GET, ACTIVATE and DEACTIVATE through Raft (kv/alarms.h).
  grpc::ServerUnaryReactor* Alarm(grpc::CallbackServerContext* ctx,
                                  const etcdserverpb::AlarmRequest* req,
                                  etcdserverpb::AlarmResponse* resp) override;
  // kv::StateMachine::Defragment on a worker thread; this member only.
  grpc::ServerUnaryReactor* Defragment(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::DefragmentRequest* req,
      etcdserverpb::DefragmentResponse* resp) override;
  grpc::ServerUnaryReactor* MoveLeader(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::MoveLeaderRequest* req,
      etcdserverpb::MoveLeaderResponse* resp) override;
  // This member's MvccStore::HashKV (no Raft round trip, as etcd).
  grpc::ServerUnaryReactor* HashKV(grpc::CallbackServerContext* ctx,
                                   const etcdserverpb::HashKVRequest* req,
                                   etcdserverpb::HashKVResponse* resp) override;
  // etcd hashes its whole bbolt file; raftkv answers HashKV at the current
  // revision, the part of the store members must agree on.
  grpc::ServerUnaryReactor* Hash(grpc::CallbackServerContext* ctx,
                                 const etcdserverpb::HashRequest* req,
                                 etcdserverpb::HashResponse* resp) override;
  // The store as a bbolt file in etcd 3.4's schema, in 32 KiB chunks, then
  // its SHA-256 (maintenance_snapshot.cc).
  grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse>* Snapshot(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::SnapshotRequest* req) override;

 private:
  EtcdServer* const server_;
  const std::string snapshot_dir_;
};

class ClusterService final : public etcdserverpb::Cluster::CallbackService {
 public:
  explicit ClusterService(EtcdServer* server) : server_(server) {}

  grpc::ServerUnaryReactor* MemberList(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::MemberListRequest* req,
      etcdserverpb::MemberListResponse* resp) override;
  // etcd's reconfiguration: each validates as etcd 3.4 does (with
  // --strict-reconfig-check, refusing changes that endanger the quorum),
  // proposes one raftpb::ConfChange and answers once it is applied here.
  grpc::ServerUnaryReactor* MemberAdd(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::MemberAddRequest* req,
      etcdserverpb::MemberAddResponse* resp) override;
  grpc::ServerUnaryReactor* MemberRemove(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::MemberRemoveRequest* req,
      etcdserverpb::MemberRemoveResponse* resp) override;
  grpc::ServerUnaryReactor* MemberUpdate(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::MemberUpdateRequest* req,
      etcdserverpb::MemberUpdateResponse* resp) override;
  grpc::ServerUnaryReactor* MemberPromote(
      grpc::CallbackServerContext* ctx,
      const etcdserverpb::MemberPromoteRequest* req,
      etcdserverpb::MemberPromoteResponse* resp) override;

 private:
  // Proposes `cc` for `member`; when applied, fills resp's header and member
  // list (sorted by ID) and finishes.
  template <typename Resp>
  grpc::ServerUnaryReactor* Change(grpc::CallbackServerContext* ctx,
                                   raftpb::ConfChange cc, kvpb::Member member,
                                   Resp* resp);

  EtcdServer* const server_;
};

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_SERVER_SERVICES_H_
