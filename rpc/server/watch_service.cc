#include "rpc/server/watch_service.h"

#include <deque>
#include <memory>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace raftkv::rpc {
namespace {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;
using kv::watch::WatchMessage;

// Control messages (created, canceled) a stream may hold before the
// reactor stops reading requests from its client.
constexpr size_t kMaxControlBacklog = 1024;

kv::watch::WatchSpec SpecFrom(const etcdserverpb::WatchCreateRequest& r) {
  kv::watch::WatchSpec spec;
  spec.key = r.key();
  spec.range_end = r.range_end();
  spec.start_revision = r.start_revision();
  spec.watch_id = r.watch_id();
  spec.prev_kv = r.prev_kv();
  spec.progress_notify = r.progress_notify();
  spec.fragment = r.fragment();
  for (int f : r.filters()) {
    if (f == etcdserverpb::WatchCreateRequest::NOPUT) spec.no_put = true;
    if (f == etcdserverpb::WatchCreateRequest::NODELETE) spec.no_delete = true;
  }
  return spec;
}

bool RequiresLeader(const grpc::CallbackServerContext* ctx) {
  const auto& md = ctx->client_metadata();
  auto it = md.find("hasleader");
  return it != md.end() && it->second == "true";
}

// Thread safety: gRPC reaction methods and hub wake-ups run on any thread;
// `mu_` guards the write state. Lock order: the stream's wake lock, then
// mu_, then the hub's lock (Pop); OnDone closes the stream without mu_.
class WatchReactor final
    : public grpc::ServerBidiReactor<WatchRequest, WatchResponse> {
 public:
  WatchReactor(EtcdServer* server, kv::watch::WatchHub* hub,
               grpc::CallbackServerContext* ctx)
      : server_(server) {
    if (RequiresLeader(ctx) && server_->node().leader() == 0) {
      Finish(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: no leader"));
      return;
    }
    stream_ = hub->OpenStream([this] { OnWake(); });
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    // !ok: the client closed its side; etcd keeps sending until the call
    // ends, and so do we.
    if (!ok) return;
    switch (request_.request_union_case()) {
      case WatchRequest::kCreateRequest:
        stream_->Create(SpecFrom(request_.create_request()));
        break;
      case WatchRequest::kCancelRequest:
        stream_->Cancel(request_.cancel_request().watch_id());
        break;
      case WatchRequest::kProgressRequest:
        stream_->RequestProgress();
        break;
      default:
        break;
    }
    absl::MutexLock l(&mu_);
    if (stream_->ControlBacklog() > kMaxControlBacklog) {
      read_paused_ = true;  // resumed by OnWriteDone
      return;
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (!ok) finishing_ = true;  // the call is broken
    if (finishing_) {
      MaybeFinish();
      return;
    }
    if (read_paused_ && stream_->ControlBacklog() <= kMaxControlBacklog / 2) {
      read_paused_ = false;
      StartRead(&request_);
    }
    SendNext();
  }

  void OnCancel() override {
    absl::MutexLock l(&mu_);
    finishing_ = true;
    MaybeFinish();
  }

  void OnDone() override {
    if (stream_) stream_->Close();
    delete this;
  }

 private:
  void OnWake() {
    absl::MutexLock l(&mu_);
    if (!writing_ && !finishing_) SendNext();
  }

  // Writes the next response, if any.
  void SendNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pending_.empty()) {
      WatchMessage m;
      if (!stream_->Pop(&m)) return;
      for (auto& r : ToResponses(m, server_->options().max_request_bytes)) {
        server_->FillHeader(r.mutable_header());
        pending_.push_back(std::move(r));
      }
    }
    current_ = std::move(pending_.front());
    pending_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  void MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  EtcdServer* const server_;
  std::shared_ptr<kv::watch::WatchStream> stream_;
  WatchRequest request_;  // owned by the outstanding read

  absl::Mutex mu_;
  WatchResponse current_ ABSL_GUARDED_BY(mu_);  // the outstanding write
  std::deque<WatchResponse> pending_ ABSL_GUARDED_BY(mu_);  // fragments
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::vector<WatchResponse> ToResponses(const WatchMessage& m,
                                       int64_t max_bytes) {
  WatchResponse r;
  r.mutable_header()->set_revision(m.revision);
  r.set_watch_id(m.watch_id);
  switch (m.kind) {
    case WatchMessage::Kind::kCreated:
      r.set_created(true);
      if (!m.cancel_reason.empty()) {
        r.set_canceled(true);
        r.set_watch_id(kv::watch::kInvalidWatchId);
        r.set_cancel_reason(m.cancel_reason);
      }
      return {std::move(r)};
    case WatchMessage::Kind::kCanceled:
      r.set_canceled(true);
      r.set_compact_revision(m.compact_revision);
      r.set_cancel_reason(m.cancel_reason);
      return {std::move(r)};
    case WatchMessage::Kind::kProgress:
      return {std::move(r)};
    case WatchMessage::Kind::kEvents:
      break;
  }
  for (uint32_t i : m.indices) {
    mvccpb::Event* e = r.add_events();
    *e = m.batch->events[i];
    if (!m.prev_kv) e->clear_prev_kv();
  }
  if (!m.fragment || r.events_size() < 2 ||
      static_cast<int64_t>(r.ByteSizeLong()) < max_bytes) {
    return {std::move(r)};
  }
  // etcd's sendFragments: fill each piece until the next event would reach
  // max_bytes; every piece but the last has fragment=true.
  std::vector<WatchResponse> out;
  WatchResponse piece;
  *piece.mutable_header() = r.header();
  piece.set_watch_id(r.watch_id());
  for (auto& e : *r.mutable_events()) {
    const int64_t size =
        static_cast<int64_t>(piece.ByteSizeLong() + e.ByteSizeLong() + 8);
    if (piece.events_size() > 0 && size >= max_bytes) {
      piece.set_fragment(true);
      out.push_back(piece);
      piece.clear_events();
    }
    *piece.add_events() = std::move(e);
  }
  out.push_back(std::move(piece));
  return out;
}

grpc::ServerBidiReactor<WatchRequest, WatchResponse>* WatchService::Watch(
    grpc::CallbackServerContext* ctx) {
  return new WatchReactor(server_, hub_, ctx);
}

}  // namespace raftkv::rpc
