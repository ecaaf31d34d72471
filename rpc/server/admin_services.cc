// Maintenance (Status, Alarm, Defragment, HashKV, Hash, MoveLeader);
// Cluster is in cluster_service.cc.
#include <algorithm>
#include <cstdio>
#include <utility>
#include <variant>

#include "absl/time/clock.h"
#include "kv/alarms.h"
#include "rpc/server/api_level.h"
#include "rpc/server/services.h"

namespace raftkv::rpc {

grpc::ServerUnaryReactor* MaintenanceService::Status(
    grpc::CallbackServerContext* ctx, const etcdserverpb::StatusRequest*,
    etcdserverpb::StatusResponse* resp) {
  const raft::NodeStatus st = server_->node().status();
  server_->FillHeader(resp->mutable_header());
  resp->set_version(kEtcdServerVersion);
  // etcd reports its bbolt file's size; the closest is the store's files
  // (LevelDB's ApproximateSizes omits the memtable and is 0 on a new store,
  // which etcdctl's JSON would then leave out).
  // Two walks of the directory: the store may grow between them, and in
  // use must never exceed the size (as in etcd, where both come from one
  // file), so the second is capped by the first.
  const int64_t db_size = server_->state_machine().DiskSize();
  resp->set_dbsize(db_size);
  resp->set_dbsizeinuse(
      std::min(server_->state_machine().SizeInUse(), db_size));
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
  // As etcd: one error per raised alarm, in the alarm's text form.
  for (const kvpb::AlarmMember& m :
       server_->state_machine().alarms().Get().List()) {
    resp->add_errors(kv::AlarmText(m));
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::Alarm(
    grpc::CallbackServerContext* ctx, const etcdserverpb::AlarmRequest* req,
    etcdserverpb::AlarmResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // Checked at the door: only etcd's two alarms can be raised. GET and
  // DEACTIVATE take any type (etcd answers those with what is raised).
  if (req->action() == etcdserverpb::AlarmRequest::ACTIVATE &&
      req->alarm() != etcdserverpb::NOSPACE &&
      req->alarm() != etcdserverpb::CORRUPT) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "etcdserver: unknown alarm type"));
    return reactor;
  }
  // Every action goes through Raft, as in etcd: GET answers with the alarms
  // as of its entry, so it is linearizable.
  kvpb::InternalRequest request;
  kvpb::AlarmChange* change = request.mutable_alarm();
  change->set_action(static_cast<kvpb::AlarmChange::Action>(req->action()));
  change->set_member_id(req->memberid());
  change->set_alarm(req->alarm());
  server_->Write(
      std::move(request), [this, resp, reactor](const kv::ApplyResult& result) {
        if (!result.ok()) {
          reactor->Finish(ToGrpc(result.status()));
          return;
        }
        if (const auto* r = std::get_if<kvpb::AlarmResult>(&*result)) {
          for (const kvpb::AlarmMember& m : r->alarms()) {
            etcdserverpb::AlarmMember* out = resp->add_alarms();
            out->set_memberid(m.member_id());
            out->set_alarm(static_cast<etcdserverpb::AlarmType>(m.alarm()));
          }
        }
        server_->FillHeader(resp->mutable_header());
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::Defragment(
    grpc::CallbackServerContext* ctx, const etcdserverpb::DefragmentRequest*,
    etcdserverpb::DefragmentResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // On the worker pool, never the apply path: reads and writes go on while
  // LevelDB rewrites its tables (kv::StateMachine::Defragment).
  server_->RunBlocking([this, resp, reactor] {
    std::fprintf(stderr, "raftkv: starting defragment\n");
    const int64_t before = server_->state_machine().DiskSize();
    const absl::Time start = absl::Now();
    absl::Status s = server_->state_machine().Defragment();
    std::fprintf(stderr,
                 "raftkv: finished defragment (took=%s size-before=%lld "
                 "size-after=%lld)%s%s\n",
                 absl::FormatDuration(absl::Now() - start).c_str(),
                 static_cast<long long>(before),
                 static_cast<long long>(server_->state_machine().DiskSize()),
                 s.ok() ? "" : ": ", std::string(s.message()).c_str());
    server_->FillHeader(resp->mutable_header());
    reactor->Finish(ToGrpc(s));
  });
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
