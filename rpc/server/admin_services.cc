// Maintenance (Status, Alarm, MoveLeader); Cluster is in cluster_service.cc.
#include <algorithm>

#include "rpc/server/services.h"

namespace raftkv::rpc {

// The etcd API level raftkv claims (clients gate features on it).
constexpr char kEtcdVersion[] = "3.4.0";

grpc::ServerUnaryReactor* MaintenanceService::Status(
    grpc::CallbackServerContext* ctx, const etcdserverpb::StatusRequest*,
    etcdserverpb::StatusResponse* resp) {
  const raft::NodeStatus st = server_->node().status();
  server_->FillHeader(resp->mutable_header());
  resp->set_version(kEtcdVersion);
  // etcd reports its bbolt file's size; the closest is the store's files
  // (LevelDB's ApproximateSizes omits the memtable and is 0 on a new store,
  // which etcdctl's JSON would then leave out).
  const int64_t db_size = server_->state_machine().DiskSize();
  resp->set_dbsize(db_size);
  resp->set_dbsizeinuse(db_size);
  resp->set_leader(st.leader);
  resp->set_raftindex(st.commit);
  resp->set_raftterm(st.term);
  resp->set_raftappliedindex(st.applied);
  bool learner = false;
  for (uint64_t id : st.conf_state.learners()) learner |= id == st.id;
  resp->set_islearner(learner);
  if (absl::Status health = server_->node().health(); !health.ok()) {
    resp->add_errors(std::string(health.message()));
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::Alarm(
    grpc::CallbackServerContext* ctx, const etcdserverpb::AlarmRequest*,
    etcdserverpb::AlarmResponse* resp) {
  // No alarm is ever raised yet (no quota enforcement): GET lists none and
  // ACTIVATE/DEACTIVATE have nothing to change.
  server_->FillHeader(resp->mutable_header());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

namespace {

// This member's HashKV at `rev` with the response header filled; the
// header's revision is the store's current one, as etcd's.
absl::StatusOr<kv::MvccStore::HashKvResult> LocalHash(
    EtcdServer* server, int64_t rev, etcdserverpb::ResponseHeader* header) {
  auto hash = server->state_machine().store()->HashKV(rev);
  if (!hash.ok()) return hash.status();
  server->FillHeader(header);
  header->set_revision(hash->revision);
  return hash;
}

}  // namespace

grpc::ServerUnaryReactor* MaintenanceService::HashKV(
    grpc::CallbackServerContext* ctx, const etcdserverpb::HashKVRequest* req,
    etcdserverpb::HashKVResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto hash = LocalHash(server_, req->revision(), resp->mutable_header());
  if (hash.ok()) {
    resp->set_hash(hash->hash);
    resp->set_compact_revision(hash->compact_revision);
  }
  reactor->Finish(ToGrpc(hash.status()));
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::Hash(
    grpc::CallbackServerContext* ctx, const etcdserverpb::HashRequest*,
    etcdserverpb::HashResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto hash = LocalHash(server_, 0, resp->mutable_header());
  if (hash.ok()) resp->set_hash(hash->hash);
  reactor->Finish(ToGrpc(hash.status()));
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::MoveLeader(
    grpc::CallbackServerContext* ctx,
    const etcdserverpb::MoveLeaderRequest* req,
    etcdserverpb::MoveLeaderResponse*) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  raft::Node& node = server_->node();
  const raft::NodeStatus st = node.status();
  if (st.leader != st.id) {
    reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 "etcdserver: not leader"));
    return reactor;
  }
  bool voter = false;
  for (uint64_t id : st.conf_state.voters()) voter |= id == req->targetid();
  if (!voter) {
    reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 "etcdserver: bad leader transferee"));
    return reactor;
  }
  if (req->targetid() == st.id) {
    // As etcd: the target already leads, which is what was asked.
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  node.TransferLeadership(req->targetid());
  // etcd answers with an empty response once the target leads.
  server_->AwaitLeader(req->targetid(), [reactor](absl::Status s) {
    reactor->Finish(ToGrpc(s));
  });
  return reactor;
}

}  // namespace raftkv::rpc
