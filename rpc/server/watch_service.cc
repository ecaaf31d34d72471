#include "rpc/server/watch_service.h"

#include <deque>
#include <memory>
#include <thread>
#include <unordered_set>
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

// Leader polls in a row without a leader after which the hasleader=true
// streams are ended (etcd's maxNoLeaderCnt).
constexpr int kMaxNoLeaderChecks = 3;

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

grpc::Status NoLeaderStatus() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: no leader");
}

class WatchReactor;

}  // namespace

// Polls the member's leader every election timeout on its own thread; after
// kMaxNoLeaderChecks polls in a row without one, ends every registered
// stream with "etcdserver: no leader" and forgets it (etcd's monitorLeader).
//
// Thread safety: thread-safe. Lock order: mu_, then a reactor's mu_, then
// the node's. A reactor registers before its first read and unregisters in
// OnDone before it is deleted, so every pointer in streams_ is alive while
// mu_ is held; NoLeader() only starts the call's Finish, and gRPC never
// runs OnDone inline from Finish, so OnDone cannot wait for mu_ here.
class LeaderMonitor {
 public:
  LeaderMonitor(const raft::Node* node, absl::Duration interval)
      : node_(node), interval_(interval) {
    thread_ = std::thread([this] { Run(); });
  }
  ~LeaderMonitor() {
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }
  void Register(WatchReactor* r) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    streams_.insert(r);
  }
  void Unregister(WatchReactor* r) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    streams_.erase(r);
  }

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  const raft::Node* const node_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  std::unordered_set<WatchReactor*> streams_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

namespace {

// Thread safety: gRPC reaction methods and hub wake-ups run on any thread;
// `mu_` guards the write state. Lock order: the stream's wake lock, then
// mu_, then the hub's lock (Pop); OnDone closes the stream without mu_.
class WatchReactor final
    : public grpc::ServerBidiReactor<WatchRequest, WatchResponse> {
 public:
  WatchReactor(EtcdServer* server, kv::watch::WatchHub* hub,
               LeaderMonitor* monitor, grpc::CallbackServerContext* ctx)
      : server_(server) {
    if (RequiresLeader(ctx)) {
      if (server_->node().leader() == 0) {
        Finish(NoLeaderStatus());
        return;
      }
      monitor_ = monitor;
    }
    stream_ = hub->OpenStream([this] { OnWake(); });
    // Registered before the first read, so before any OnDone.
    if (monitor_) monitor_->Register(this);
    absl::MutexLock l(&mu_);
    StartRead(&request_);
    started_ = true;
    if (finishing_) MaybeFinish();  // NoLeader() came first
  }

  // The member has had no leader for a while: end the call with etcd's
  // "etcdserver: no leader" once the current write is done.
  void NoLeader() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    if (finishing_) return;
    finishing_ = true;
    finish_status_ = NoLeaderStatus();
    if (started_) MaybeFinish();
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
    if (monitor_) monitor_->Unregister(this);
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
    Finish(finish_status_);
  }

  EtcdServer* const server_;
  // Set for a hasleader=true stream only.
  LeaderMonitor* monitor_ = nullptr;
  std::shared_ptr<kv::watch::WatchStream> stream_;
  WatchRequest request_;  // owned by the outstanding read

  absl::Mutex mu_;
  WatchResponse current_ ABSL_GUARDED_BY(mu_);  // the outstanding write
  std::deque<WatchResponse> pending_ ABSL_GUARDED_BY(mu_);  // fragments
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // The first read was started (the constructor is done with the call).
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void LeaderMonitor::Run() {
  int no_leader = 0;
  absl::MutexLock l(&mu_);
  while (true) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_);
    if (stopping_) return;
    no_leader = node_->leader() == 0 ? no_leader + 1 : 0;
    if (no_leader < kMaxNoLeaderChecks) continue;
    for (WatchReactor* r : streams_) r->NoLeader();
    streams_.clear();
  }
}

WatchService::WatchService(EtcdServer* server, kv::watch::WatchHub* hub)
    : server_(server),
      hub_(hub),
      monitor_(std::make_unique<LeaderMonitor>(
          &server->node(), server->options().election_timeout)) {}

WatchService::~WatchService() = default;

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
  return new WatchReactor(server_, hub_, monitor_.get(), ctx);
}

}  // namespace raftkv::rpc
