#include "rpc/peer/peer_sender.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"
#include "rpc/peer/peer_channel.h"
#include "rpc/peer/peer_service.h"

namespace raftkv::rpc {

PeerSender::PeerSender(uint64_t from, uint64_t to, uint64_t cluster_id,
                       std::string target, raft::MessageHandler* handler,
                       const PeerSenderOptions& options)
    : from_(from),
      to_(to),
      cluster_id_(cluster_id),
      target_(std::move(target)),
      handler_(handler),
      options_(options),
      channel_(NewPeerChannel(target_, options.channel)),
      stub_(peerpb::RaftPeer::NewStub(channel_)),
      thread_([this] { Run(); }) {}

PeerSender::~PeerSender() { Stop(); }

void PeerSender::Enqueue(raftpb::Message m) {
  bool report = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (!down_ && queue_.size() < options_.queue_capacity) {
      queue_.push_back(std::move(m));
      return;
    }
    report = ReportDue();
  }
  // Called without mu_: the handler may take its own locks.
  if (report) handler_->ReportUnreachable(to_);
}

void PeerSender::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    queue_.clear();
    if (active_ctx_ != nullptr) active_ctx_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

bool PeerSender::connected() const {
  absl::MutexLock lock(&mu_);
  return connected_;
}

void PeerSender::Run() {
  const std::string name = absl::StrCat("raftkv-peer-", to_).substr(0, 15);
  pthread_setname_np(pthread_self(), name.c_str());
  absl::Duration backoff = options_.channel.min_backoff;
  while (true) {
    std::unique_ptr<grpc::ClientContext> ctx = NewStreamContext();
    if (ctx == nullptr) return;  // Stop()
    const absl::Time start = absl::Now();
    const bool established = RunStream(ctx.get());
    {
      absl::MutexLock lock(&mu_);
      active_ctx_ = nullptr;
      if (stopping_) return;
    }
    MarkDown();
    // A stream that stayed up for a while earns a fast reconnect; one that
    // breaks right away (peer refusing us, crash loop) keeps backing off.
    if (established && absl::Now() - start >= options_.channel.max_backoff) {
      backoff = options_.channel.min_backoff;
    }
    if (!WaitBackoff(backoff)) return;
    backoff = std::min(backoff * 2, options_.channel.max_backoff);
  }
}

bool PeerSender::RunStream(grpc::ClientContext* ctx) {
  peerpb::StreamAck ack;
  std::unique_ptr<grpc::ClientWriter<peerpb::MessageBatch>> writer =
      stub_->Stream(ctx, &ack);
  // An empty batch opens the stream: it fails fast if the peer is down,
  // and lets the receiver check cluster_id before any message is at stake.
  peerpb::MessageBatch hello;
  hello.set_cluster_id(cluster_id_);
  hello.set_from(from_);
  bool established = writer->Write(hello);
  if (established) MarkConnected();
  while (established) {
    std::optional<peerpb::MessageBatch> batch = NextBatch();
    if (!batch.has_value()) {
      writer->WritesDone();
      break;
    }
    // A failed write loses the batch; MarkDown reports the peer.
    if (!writer->Write(*batch)) break;
  }
  const grpc::Status status = writer->Finish();
  if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
      status.error_message() == kRemovedMessage && options_.on_removed) {
    options_.on_removed();
  }
  absl::MutexLock lock(&mu_);
  if (!established && !stopping_ &&
      IsCertificateRefusal(status.error_message(),
                           options_.channel.credentials != nullptr)) {
    // etcd's words (its e2e tests wait for them), then gRPC's.
    std::fprintf(stderr,
                 "raftkv: peer %llu at %s closed the connection at the TLS "
                 "handshake, refusing this member's certificate: remote "
                 "error: tls: bad certificate (%s)\n",
                 static_cast<unsigned long long>(to_), target_.c_str(),
                 status.error_message().c_str());
  }
  if (!stopping_ && !down_) {
    std::fprintf(stderr,
                 "raftkv: peer stream closed peer=%llu target=%s code=%d "
                 "error=\"%s\"\n",
                 static_cast<unsigned long long>(to_), target_.c_str(),
                 static_cast<int>(status.error_code()),
                 status.error_message().c_str());
  }
  return established;
}

std::optional<peerpb::MessageBatch> PeerSender::NextBatch() {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  };
  // On timeout the batch stays empty: a probe. The sync API cannot see that
  // the peer ended the call (it restarted, or refused our cluster) while
  // the connection stays up; a write to an ended call fails at once.
  mu_.AwaitWithTimeout(absl::Condition(&ready), options_.idle_check_interval);
  if (stopping_) return std::nullopt;
  peerpb::MessageBatch batch;
  batch.set_cluster_id(cluster_id_);
  batch.set_from(from_);
  size_t bytes = 0;
  while (!queue_.empty() && batch.messages_size() <
                                static_cast<int>(options_.max_batch_messages)) {
    const size_t size = queue_.front().ByteSizeLong();
    if (batch.messages_size() > 0 && bytes + size > options_.max_batch_bytes) {
      break;
    }
    bytes += size;
    *batch.add_messages() = std::move(queue_.front());
    queue_.pop_front();
  }
  return batch;
}

std::unique_ptr<grpc::ClientContext> PeerSender::NewStreamContext() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  // Fail fast: a down peer must fail the stream, not park it until the
  // peer comes back while messages pile up.
  ctx->set_wait_for_ready(false);
  absl::MutexLock lock(&mu_);
  if (stopping_) return nullptr;
  active_ctx_ = ctx.get();
  return ctx;
}

void PeerSender::MarkConnected() {
  absl::MutexLock lock(&mu_);
  down_ = false;
  connected_ = true;
}

void PeerSender::MarkDown() {
  bool report = false;
  {
    absl::MutexLock lock(&mu_);
    // Something was lost: queued messages, or a batch in flight on a
    // stream that was up. A peer that stays down with nothing sent to it is
    // not reported again (Enqueue reports drops).
    report = !queue_.empty() || connected_;
    if (report) last_report_ = absl::Now();
    queue_.clear();
    down_ = true;
    connected_ = false;
  }
  if (report) handler_->ReportUnreachable(to_);
}

bool PeerSender::ReportDue() {
  const absl::Time now = absl::Now();
  if (now - last_report_ < options_.report_interval) return false;
  last_report_ = now;
  return true;
}

bool PeerSender::WaitBackoff(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto stopping = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  mu_.AwaitWithTimeout(absl::Condition(&stopping), d);
  return !stopping_;
}

}  // namespace raftkv::rpc
