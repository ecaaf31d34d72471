#include "kv/watch/watch_hub.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <utility>

namespace raftkv::kv::watch {
namespace {

// Watchers one catch-up read serves at most (etcd's maxWatchersPerSync), so
// that one round's delivery work under the lock stays bounded.
constexpr size_t kMaxWatchersPerCatchUp = 512;

int64_t Revision(const mvccpb::Event& e) { return e.kv().mod_revision(); }

}  // namespace

WatchHub::WatchHub(StoreProvider store, HubOptions options)
    : store_(std::move(store)), options_(options) {
  const int64_t rev = store_()->revision();
  published_ = rev;
  target_ = rev;
  next_tick_ = absl::Now() + options_.progress_interval;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "raftkv-watch");
    Run();
  });
}

WatchHub::~WatchHub() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void WatchHub::Notify(int64_t revision) {
  absl::MutexLock publishing(&publish_mu_);
  absl::MutexLock l(&mu_);
  if (revision > target_) target_ = revision;
  // Publish before the next batch is applied: a compaction in it could
  // otherwise remove revisions synced watchers have not been handed yet.
  while (target_ > published_) PublishLive(&pending_wakes_);
}

std::shared_ptr<WatchStream> WatchHub::OpenStream(std::function<void()> wake) {
  std::shared_ptr<WatchStream> s(new WatchStream(this, std::move(wake)));
  absl::MutexLock l(&mu_);
  streams_[s.get()] = s;
  return s;
}

int64_t WatchHub::published() const {
  absl::MutexLock l(&mu_);
  return published_;
}

bool WatchHub::AwaitPublished(int64_t revision, absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto done = [this, revision]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return published_ >= revision;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

WatchHub::Stats WatchHub::stats() const {
  absl::MutexLock l(&mu_);
  Stats s;
  s.streams = streams_.size();
  s.synced = synced_count_;
  s.unsynced = unsynced_.size();
  for (const auto& [stream, weak] : streams_) {
    s.queued_messages += stream->queue_.size();
  }
  s.published = published_;
  s.batches_read = batches_read_;
  s.batches_skipped = batches_skipped_;
  s.catchup_reads = catchup_reads_;
  return s;
}

bool WatchHub::HasWork() const {
  return stopping_ || catchup_ready_ || !pending_wakes_.empty();
}

void WatchHub::Run() {
  absl::MutexLock l(&mu_);
  while (true) {
    mu_.AwaitWithDeadline(absl::Condition(this, &WatchHub::HasWork),
                          next_tick_);
    if (stopping_) return;
    WakeList wake;
    wake.swap(pending_wakes_);
    if (catchup_ready_) CatchUp(&wake);
    if (absl::Now() >= next_tick_) {
      ProgressTick(&wake);
      next_tick_ = absl::Now() + options_.progress_interval;
    }
    if (!wake.empty()) {
      mu_.Unlock();
      WakeAll(wake);
      wake.clear();
      mu_.Lock();
    }
  }
}

void WatchHub::PublishLive(WakeList* wake) {
  const int64_t from = published_ + 1;
  const int64_t to = target_;
  if (synced_count_ == 0) {
    // Nobody to hand these revisions to (the common case of a store without
    // watchers): skip the read. Unsynced watchers read their backlog from
    // the store themselves, and join the synced set under mu_, which is not
    // released here.
    published_ = to;
    ++batches_skipped_;
    SendWaitingProgress(wake);
    return;
  }
  // Read without mu_: only the publisher (under publish_mu_) moves
  // published_, so the range stays right; watchers that come and go
  // meanwhile are handled below. Previous values are read only when a synced
  // watcher wants them; one that joined during a read without them makes us
  // read again.
  bool prev_kv = synced_prev_kv_ > 0;
  absl::StatusOr<ChangeBatch> read;
  while (true) {
    mu_.Unlock();
    {
      std::shared_ptr<MvccStore> store = store_();
      read = store->ReadChanges(from, to, options_.read_limit, prev_kv);
    }
    mu_.Lock();
    if (prev_kv || synced_prev_kv_ == 0) break;
    prev_kv = true;
  }
  ++batches_read_;
  if (!read.ok() || read->next_revision <= from) {
    // The store no longer holds these revisions (a snapshot install brought
    // a compacted store) or cannot read them: every synced watcher that
    // needs them catches up instead, and is cancelled there with
    // compact_revision set — never a silent gap.
    if (!read.ok()) {
      std::fprintf(stderr, "watch: live read from=%ld to=%ld failed: %s\n",
                   static_cast<long>(from), static_cast<long>(to),
                   std::string(read.status().message()).c_str());
    }
    std::vector<Watcher*> behind(range_synced_.begin(), range_synced_.end());
    for (auto& [key, set] : key_synced_) {
      behind.insert(behind.end(), set.begin(), set.end());
    }
    for (Watcher* w : behind) {
      if (w->next_rev <= to) MakeUnsynced(w);
    }
    published_ = to;
    return;
  }
  auto batch = std::make_shared<EventBatch>();
  batch->events = std::move(read->events);
  batch->first_revision = from;
  batch->last_revision = read->next_revision - 1;
  // Match each event once against the key index, then the range watchers.
  std::unordered_map<Watcher*, std::vector<uint32_t>> matches;
  for (uint32_t i = 0; i < batch->events.size(); ++i) {
    const mvccpb::Event& e = batch->events[i];
    auto accept = [&](Watcher* w) {
      if (Revision(e) >= w->next_rev && w->spec.Accepts(e)) {
        matches[w].push_back(i);
      }
    };
    auto it = key_synced_.find(e.kv().key());
    if (it != key_synced_.end()) {
      for (Watcher* w : it->second) accept(w);
    }
    for (Watcher* w : range_synced_) {
      if (w->spec.Contains(e.kv().key())) accept(w);
    }
  }
  for (auto& [w, indices] : matches) {
    if (!Deliver(w, batch, std::move(indices), batch->last_revision, wake)) {
      MakeUnsynced(w);  // its stream is full: catch up from the store later
    }
  }
  published_ = batch->last_revision;
  SendWaitingProgress(wake);
}

void WatchHub::SendWaitingProgress(WakeList* wake) {
  for (auto it = progress_waiting_.begin(); it != progress_waiting_.end();) {
    WatchStream* s = *it++;  // MaybeSendProgress may erase s
    MaybeSendProgress(s, wake);
  }
}

void WatchHub::CatchUp(WakeList* wake) {
  std::vector<std::pair<Watcher*, uint64_t>> chosen;
  int64_t from = 0;
  bool prev_kv = false;
  std::vector<Watcher*> done;
  for (Watcher* w : unsynced_) {
    if (w->next_rev > published_) {
      done.push_back(w);
      continue;
    }
    if (w->stream->queued_events_ >= options_.stream_capacity) continue;
    if (chosen.size() >= kMaxWatchersPerCatchUp) continue;
    chosen.emplace_back(w, w->serial);
    from = chosen.size() == 1 ? w->next_rev : std::min(from, w->next_rev);
    prev_kv |= w->spec.prev_kv;
  }
  for (Watcher* w : done) {
    unsynced_.erase(w);
    --w->stream->unsynced_;
    AddSynced(w);
    MaybeSendProgress(w->stream, wake);
  }
  if (chosen.empty()) {
    catchup_ready_ = false;
    return;
  }
  const int64_t to = published_;
  mu_.Unlock();
  absl::StatusOr<ChangeBatch> read;
  int64_t compact = 0;
  {
    std::shared_ptr<MvccStore> store = store_();
    read = store->ReadChanges(from, to, options_.read_limit, prev_kv);
    compact = store->compact_revision();
  }
  mu_.Lock();
  ++catchup_reads_;
  // A watcher may have been cancelled while the lock was free: only those
  // still unsynced with the same serial are served.
  auto alive = [this](const std::pair<Watcher*, uint64_t>& c) {
    return unsynced_.count(c.first) && c.first->serial == c.second;
  };
  if (!read.ok()) {
    const bool compacted = absl::IsOutOfRange(read.status());
    for (const auto& c : chosen) {
      if (!alive(c)) continue;
      Watcher* w = c.first;
      if (compacted && w->next_rev >= compact) continue;  // next round
      WatchStream* s = w->stream;
      CancelWatcher(w, compacted ? compact : 0,
                    compacted ? "" : std::string(read.status().message()),
                    /*drop_queued=*/false, wake);
      MaybeSendProgress(s, wake);
    }
    return;
  }
  auto batch = std::make_shared<EventBatch>();
  batch->events = std::move(read->events);
  batch->first_revision = from;
  batch->last_revision = read->next_revision - 1;
  for (const auto& c : chosen) {
    if (!alive(c)) continue;
    Watcher* w = c.first;
    if (w->next_rev > batch->last_revision) continue;  // beyond this read
    std::vector<uint32_t> indices;
    for (uint32_t i = 0; i < batch->events.size(); ++i) {
      const mvccpb::Event& e = batch->events[i];
      if (Revision(e) >= w->next_rev && w->spec.Contains(e.kv().key()) &&
          w->spec.Accepts(e)) {
        indices.push_back(i);
      }
    }
    if (!Deliver(w, batch, std::move(indices), batch->last_revision, wake)) {
      continue;  // full again: wait for room
    }
    if (w->next_rev == published_ + 1) {
      // Caught up, under the lock that moves published_: the next live
      // batch starts exactly at next_rev.
      unsynced_.erase(w);
      --w->stream->unsynced_;
      AddSynced(w);
      MaybeSendProgress(w->stream, wake);
    }
  }
}

void WatchHub::ProgressTick(WakeList* wake) {
  for (const auto& [s, weak] : streams_) {
    for (auto& [id, w] : s->watchers_) {
      // Only a synced, current watcher can be told "nothing up to
      // published_": a lagging one has unsent events, and a future one must
      // not be sent a revision below its start (a resuming client would go
      // back in time).
      const bool due = w->spec.progress_notify && w->synced &&
                       w->next_rev <= published_ + 1 && !w->sent_since_tick &&
                       s->queued_events_ < options_.stream_capacity;
      w->sent_since_tick = false;
      if (!due) continue;
      WatchMessage m;
      m.kind = WatchMessage::Kind::kProgress;
      m.watch_id = w->id;
      m.revision = published_;
      Push(s, std::move(m), wake);
    }
  }
}

bool WatchHub::Deliver(Watcher* w,
                       const std::shared_ptr<const EventBatch>& batch,
                       std::vector<uint32_t> indices, int64_t revision,
                       WakeList* wake) {
  WatchStream* s = w->stream;
  if (!indices.empty()) {
    if (s->queued_events_ >= options_.stream_capacity) return false;
    WatchMessage m;
    m.kind = WatchMessage::Kind::kEvents;
    m.watch_id = w->id;
    m.revision = revision;
    m.prev_kv = w->spec.prev_kv;
    m.fragment = w->spec.fragment;
    m.batch = batch;
    m.indices = std::move(indices);
    Push(s, std::move(m), wake);
    w->sent_since_tick = true;
  }
  w->next_rev = std::max(w->next_rev, batch->last_revision + 1);
  return true;
}

void WatchHub::Push(WatchStream* s, WatchMessage m, WakeList* wake) {
  if (s->closed_) return;
  if (m.kind == WatchMessage::Kind::kEvents) ++s->queued_events_;
  s->queue_.push_back(std::move(m));
  if (s->idle_) {
    s->idle_ = false;
    wake->push_back(Shared(s));
  }
}

void WatchHub::AddSynced(Watcher* w) {
  w->synced = true;
  ++synced_count_;
  if (w->spec.prev_kv) ++synced_prev_kv_;
  if (w->spec.range_end.empty()) {
    key_synced_[w->spec.key].insert(w);
  } else {
    range_synced_.insert(w);
  }
}

void WatchHub::RemoveSynced(Watcher* w) {
  w->synced = false;
  --synced_count_;
  if (w->spec.prev_kv) --synced_prev_kv_;
  if (w->spec.range_end.empty()) {
    auto it = key_synced_.find(w->spec.key);
    it->second.erase(w);
    if (it->second.empty()) key_synced_.erase(it);
  } else {
    range_synced_.erase(w);
  }
}

void WatchHub::MakeUnsynced(Watcher* w) {
  if (w->synced) {
    // A synced watcher has had everything up to published_ (not yet moved
    // past the batch being delivered, if any).
    w->next_rev = std::max(w->next_rev, published_ + 1);
    RemoveSynced(w);
  }
  unsynced_.insert(w);
  ++w->stream->unsynced_;
  catchup_ready_ = true;
}

void WatchHub::Remove(Watcher* w) {
  if (w->synced) {
    RemoveSynced(w);
  } else if (unsynced_.erase(w)) {
    --w->stream->unsynced_;
  }
}

void WatchHub::CancelWatcher(Watcher* w, int64_t compact_revision,
                             std::string reason, bool drop_queued,
                             WakeList* wake) {
  WatchStream* s = w->stream;
  const int64_t id = w->id;
  if (drop_queued) {
    const size_t before = s->queued_events_;
    auto& q = s->queue_;
    q.erase(std::remove_if(q.begin(), q.end(),
                           [id](const WatchMessage& m) {
                             return m.kind == WatchMessage::Kind::kEvents &&
                                    m.watch_id == id;
                           }),
            q.end());
    s->queued_events_ = q.size();
    for (const auto& m : q) {
      if (m.kind != WatchMessage::Kind::kEvents) --s->queued_events_;
    }
    if (before >= options_.stream_capacity &&
        s->queued_events_ < options_.stream_capacity) {
      catchup_ready_ = true;
    }
  }
  Remove(w);
  WatchMessage m;
  m.kind = WatchMessage::Kind::kCanceled;
  m.watch_id = id;
  m.revision = published_;
  m.compact_revision = compact_revision;
  m.cancel_reason = std::move(reason);
  Push(s, std::move(m), wake);
  s->watchers_.erase(id);  // destroys w
}

void WatchHub::MaybeSendProgress(WatchStream* s, WakeList* wake) {
  if (!s->progress_requested_) return;
  if (s->unsynced_ > 0) {
    progress_waiting_.insert(s);
    return;
  }
  progress_waiting_.erase(s);
  s->progress_requested_ = false;
  WatchMessage m;
  m.kind = WatchMessage::Kind::kProgress;
  m.watch_id = kInvalidWatchId;
  m.revision = published_;
  Push(s, std::move(m), wake);
}

void WatchHub::WakeAll(const WakeList& wake) {
  for (const auto& s : wake) {
    if (s) s->Wake();
  }
}

std::shared_ptr<WatchStream> WatchHub::Shared(WatchStream* s) {
  auto it = streams_.find(s);
  return it == streams_.end() ? nullptr : it->second.lock();
}

}  // namespace raftkv::kv::watch
