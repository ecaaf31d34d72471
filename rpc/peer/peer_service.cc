#include "rpc/peer/peer_service.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"

namespace raftkv::rpc {
namespace {

// The door at batch level. A Stream batch carries its sender's own
// messages: each names the batch's `from`, except the types a follower
// relays for a local caller (a proposal, a read, a transfer request), which
// keep their originator. A snapshot never travels in a batch: it needs the
// state machine's copy, which only InstallSnapshot stages, and without one
// the apply thread would stop the member.
bool BelongsToBatch(const raftpb::Message& m, uint64_t batch_from) {
  if (m.type() == raftpb::MSG_INSTALL_SNAPSHOT) return false;
  const bool relayed = m.type() == raftpb::MSG_PROPOSE ||
                       m.type() == raftpb::MSG_READ_INDEX ||
                       m.type() == raftpb::MSG_TRANSFER_LEADER;
  return relayed || m.from() == batch_from;
}

}  // namespace

PeerService::PeerService(uint64_t id, uint64_t cluster_id,
                         raft::MessageHandler* handler)
    : id_(id), cluster_id_(cluster_id), handler_(handler) {}

void PeerService::SetMembership(std::function<std::string()> members_source,
                                std::function<bool(uint64_t)> is_removed) {
  members_source_ = std::move(members_source);
  is_removed_ = std::move(is_removed);
}

grpc::Status PeerService::Members(grpc::ServerContext* /*context*/,
                                  const peerpb::MembersRequest* /*req*/,
                                  peerpb::MembersResponse* resp) {
  if (!members_source_) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "raftkv: starting");
  }
  resp->set_member_list(members_source_());
  return grpc::Status::OK;
}

void PeerService::SetHashSource(
    std::function<absl::StatusOr<peerpb::HashKVResponse>(int64_t)> source) {
  hash_source_ = std::move(source);
}

grpc::Status PeerService::HashKV(grpc::ServerContext* /*context*/,
                                 const peerpb::HashKVRequest* req,
                                 peerpb::HashKVResponse* resp) {
  if (absl::Status s = CheckCluster(req->cluster_id()); !s.ok()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        std::string(s.message()));
  }
  if (!hash_source_) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "raftkv: starting");
  }
  absl::StatusOr<peerpb::HashKVResponse> hash = hash_source_(req->revision());
  if (!hash.ok()) {
    return grpc::Status(static_cast<grpc::StatusCode>(hash.status().code()),
                        std::string(hash.status().message()));
  }
  *resp = *std::move(hash);
  resp->set_member_id(id_);
  return grpc::Status::OK;
}

absl::Status PeerService::CheckCluster(uint64_t cluster_id) const {
  if (cluster_id == cluster_id_) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("raftkv: peer belongs to cluster ", absl::Hex(cluster_id),
                   ", this member to cluster ", absl::Hex(cluster_id_)));
}

bool PeerService::Acceptable(const raftpb::Message& m) {
  // gRPC has already framed and parsed the bytes; what remains is a
  // well-formed message that may still be misaddressed (a stale peer
  // config pointing at the wrong member) or of a type we do not know.
  const bool ok = m.to() == id_ && m.from() != 0 && m.from() != id_ &&
                  m.type() != raftpb::MSG_UNKNOWN &&
                  raftpb::MessageType_IsValid(m.type());
  if (!ok) {
    const uint64_t n = dropped_.fetch_add(1) + 1;
    if ((n & (n - 1)) == 0) {  // log the 1st, 2nd, 4th, 8th... drop
      std::fprintf(stderr,
                   "raftkv: dropped peer message member=%llu to=%llu "
                   "from=%llu type=%d dropped_total=%llu\n",
                   static_cast<unsigned long long>(id_),
                   static_cast<unsigned long long>(m.to()),
                   static_cast<unsigned long long>(m.from()),
                   static_cast<int>(m.type()),
                   static_cast<unsigned long long>(n));
    }
  }
  return ok;
}

grpc::Status PeerService::Stream(
    grpc::ServerContext* /*context*/,
    grpc::ServerReader<peerpb::MessageBatch>* reader,
    peerpb::StreamAck* /*ack*/) {
  peerpb::MessageBatch batch;
  while (reader->Read(&batch)) {
    if (absl::Status s = CheckCluster(batch.cluster_id()); !s.ok()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          std::string(s.message()));
    }
    if (is_removed_ && is_removed_(batch.from())) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          kRemovedMessage);
    }
    batches_.fetch_add(1, std::memory_order_relaxed);
    for (raftpb::Message& m : *batch.mutable_messages()) {
      if (!BelongsToBatch(m, batch.from())) {
        const uint64_t n = dropped_.fetch_add(1) + 1;
        if ((n & (n - 1)) == 0) {  // the 1st, 2nd, 4th, 8th... drop
          std::fprintf(stderr,
                       "raftkv: dropped peer message member=%llu "
                       "batch_from=%llu from=%llu type=%d dropped_total=%llu\n",
                       static_cast<unsigned long long>(id_),
                       static_cast<unsigned long long>(batch.from()),
                       static_cast<unsigned long long>(m.from()),
                       static_cast<int>(m.type()),
                       static_cast<unsigned long long>(n));
        }
        continue;
      }
      if (!Acceptable(m)) continue;
      messages_.fetch_add(1, std::memory_order_relaxed);
      handler_->Receive(std::move(m));
    }
  }
  return grpc::Status::OK;
}

grpc::Status PeerService::InstallSnapshot(
    grpc::ServerContext* /*context*/,
    grpc::ServerReader<peerpb::SnapshotChunk>* reader,
    peerpb::SnapshotAck* ack) {
  const absl::Status status = ReceiveSnapshot(reader);
  ack->set_ok(status.ok());
  if (!status.ok()) ack->set_error(std::string(status.message()));
  return grpc::Status::OK;
}

absl::Status PeerService::ReceiveSnapshot(
    grpc::ServerReader<peerpb::SnapshotChunk>* reader) {
  peerpb::SnapshotChunk chunk;
  if (!reader->Read(&chunk)) {
    return absl::InvalidArgumentError("raftkv: empty snapshot stream");
  }
  if (absl::Status s = CheckCluster(chunk.cluster_id()); !s.ok()) return s;
  raftpb::Message m = std::move(*chunk.mutable_message());
  if (m.type() != raftpb::MSG_INSTALL_SNAPSHOT || !Acceptable(m)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raftkv: first snapshot chunk must carry an InstallSnapshot to member ",
        id_, " (type=", m.type(), " to=", m.to(), ")"));
  }
  absl::StatusOr<std::unique_ptr<raft::SnapshotSink>> sink =
      handler_->BeginSnapshot(m);
  if (!sink.ok()) return sink.status();
  while (true) {
    if (!chunk.data().empty()) {
      if (absl::Status s = (*sink)->Write(chunk.data()); !s.ok()) return s;
    }
    if (chunk.last()) break;
    if (!reader->Read(&chunk)) {
      return absl::AbortedError(
          "raftkv: snapshot stream ended before its last chunk");
    }
    if (absl::Status s = CheckCluster(chunk.cluster_id()); !s.ok()) return s;
  }
  if (absl::Status s = (*sink)->Finish(); !s.ok()) return s;
  handler_->Receive(std::move(m));
  return absl::OkStatus();
}

PeerService::Stats PeerService::stats() const {
  Stats s;
  s.batches = batches_.load();
  s.messages = messages_.load();
  s.dropped = dropped_.load();
  return s;
}

}  // namespace raftkv::rpc
