#include "rpc/peer/snapshot_sender.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"
#include "rpc/raft_peer.grpc.pb.h"

namespace raftkv::rpc {

SnapshotChunker::SnapshotChunker(raft::SnapshotSource* source, size_t max_bytes)
    : source_(source), max_bytes_(max_bytes) {}

absl::Status SnapshotChunker::Next(std::string* data, bool* last) {
  std::string piece;
  while (!eof_ && pending_.size() <= max_bytes_) {
    absl::StatusOr<bool> more = source_->Next(&piece);
    if (!more.ok()) return more.status();
    if (!*more) {
      eof_ = true;
    } else {
      pending_.append(piece);
    }
  }
  if (pending_.size() <= max_bytes_) {
    data->swap(pending_);
    pending_.clear();
  } else {
    data->assign(pending_, 0, max_bytes_);
    pending_.erase(0, max_bytes_);
  }
  *last = eof_ && pending_.empty();
  return absl::OkStatus();
}

SnapshotSender::SnapshotSender(uint64_t cluster_id,
                               raft::MessageHandler* handler,
                               size_t chunk_bytes,
                               PeerChannelOptions channel_options)
    : cluster_id_(cluster_id),
      handler_(handler),
      chunk_bytes_(chunk_bytes),
      channel_options_(channel_options) {}

SnapshotSender::~SnapshotSender() { Stop(); }

void SnapshotSender::Start(const std::string& target, raftpb::Message m,
                           std::unique_ptr<raft::SnapshotSource> source) {
  Reap();
  const uint64_t to = m.to();
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      jobs_.push_back(std::make_unique<Job>());
      Job* job = jobs_.back().get();
      // The thread may finish before `thread` is assigned; Reap joins only
      // under mu_, which we hold until then.
      job->thread = std::thread(&SnapshotSender::Run, this, job, target,
                                std::move(m), std::move(source));
      return;
    }
  }
  handler_->ReportSnapshot(to, false);  // without mu_: may take its locks
}

void SnapshotSender::Stop() {
  std::list<std::unique_ptr<Job>> jobs;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& job : jobs_) job->ctx.TryCancel();
    jobs.swap(jobs_);
  }
  for (auto& job : jobs) job->thread.join();
}

void SnapshotSender::Reap() {
  std::list<std::unique_ptr<Job>> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      auto next = std::next(it);
      if ((*it)->done) finished.splice(finished.end(), jobs_, it);
      it = next;
    }
  }
  for (auto& job : finished) job->thread.join();
}

void SnapshotSender::Run(Job* job, std::string target, raftpb::Message m,
                         std::unique_ptr<raft::SnapshotSource> source) {
  const absl::Status status = Stream(job, target, m, source.get());
  source.reset();
  if (!status.ok()) {
    std::fprintf(
        stderr,
        "raftkv: snapshot send failed peer=%llu index=%llu "
        "error=\"%s\"\n",
        static_cast<unsigned long long>(m.to()),
        static_cast<unsigned long long>(m.snapshot().metadata().index()),
        std::string(status.message()).c_str());
  }
  handler_->ReportSnapshot(m.to(), status.ok());
  absl::MutexLock lock(&mu_);
  job->done = true;
}

absl::Status SnapshotSender::Stream(Job* job, const std::string& target,
                                    const raftpb::Message& m,
                                    raft::SnapshotSource* source) {
  auto stub =
      peerpb::RaftPeer::NewStub(NewPeerChannel(target, channel_options_));
  job->ctx.set_wait_for_ready(false);
  peerpb::SnapshotAck ack;
  auto writer = stub->InstallSnapshot(&job->ctx, &ack);
  SnapshotChunker chunker(source, chunk_bytes_);
  absl::Status source_status;
  bool last = false;
  for (bool first = true; !last; first = false) {
    peerpb::SnapshotChunk chunk;
    chunk.set_cluster_id(cluster_id_);
    if (first) *chunk.mutable_message() = m;
    source_status = chunker.Next(chunk.mutable_data(), &last);
    if (!source_status.ok()) {
      job->ctx.TryCancel();  // the receiver must not install a partial copy
      break;
    }
    chunk.set_last(last);
    if (!writer->Write(chunk)) break;  // Finish() says why
  }
  if (last) writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!source_status.ok()) {
    return absl::Status(
        source_status.code(),
        absl::StrCat("reading the snapshot: ", source_status.message()));
  }
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("InstallSnapshot to ", target,
                                               ": ", status.error_message()));
  }
  if (!ack.ok()) {
    return absl::AbortedError(
        absl::StrCat("peer refused the snapshot: ", ack.error()));
  }
  return absl::OkStatus();
}

}  // namespace raftkv::rpc
