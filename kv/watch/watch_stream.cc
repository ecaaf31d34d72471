// WatchStream: the per-stream half of the hub (kv/watch/watch_hub.h).
#include <utility>

#include "kv/watch/watch_hub.h"

namespace raftkv::kv::watch {

WatchStream::WatchStream(WatchHub* hub, std::function<void()> wake)
    : hub_(hub), wake_(std::move(wake)) {}

WatchStream::~WatchStream() = default;

absl::Mutex* WatchStream::mu() const { return &hub_->mu_; }

void WatchStream::Create(WatchSpec spec) {
  WatchHub::WakeList wake;
  {
    absl::MutexLock l(&hub_->mu_);
    if (closed_) return;
    WatchMessage created;
    created.kind = WatchMessage::Kind::kCreated;
    created.revision = hub_->published_;
    absl::Status valid = spec.Normalize();
    if (valid.ok() && spec.watch_id != 0 && watchers_.count(spec.watch_id)) {
      valid = absl::InvalidArgumentError(
          "mvcc: duplicate watch ID provided on the WatchStream");
    }
    if (!valid.ok()) {
      created.cancel_reason = std::string(valid.message());
      hub_->Push(this, std::move(created), &wake);
    } else {
      int64_t id = spec.watch_id;
      if (id == 0) {
        while (watchers_.count(next_id_)) ++next_id_;
        id = next_id_++;
      }
      auto w = std::make_unique<Watcher>();
      w->id = id;
      w->serial = hub_->next_serial_++;
      w->stream = this;
      w->spec = std::move(spec);
      // etcd: "now" is the revision after the one the created response
      // reports; a future start waits in the synced set.
      w->next_rev = w->spec.start_revision == 0 ? hub_->published_ + 1
                                                : w->spec.start_revision;
      created.watch_id = id;
      hub_->Push(this, std::move(created), &wake);
      Watcher* raw = w.get();
      watchers_[id] = std::move(w);
      if (raw->next_rev > hub_->published_) {
        hub_->AddSynced(raw);
      } else {
        hub_->MakeUnsynced(raw);
      }
    }
  }
  hub_->WakeAll(wake);
}

void WatchStream::Cancel(int64_t id) {
  WatchHub::WakeList wake;
  {
    absl::MutexLock l(&hub_->mu_);
    auto it = watchers_.find(id);
    if (closed_ || it == watchers_.end()) return;
    hub_->CancelWatcher(it->second.get(), 0, "", /*drop_queued=*/true, &wake);
    hub_->MaybeSendProgress(this, &wake);
  }
  hub_->WakeAll(wake);
}

void WatchStream::RequestProgress() {
  WatchHub::WakeList wake;
  {
    absl::MutexLock l(&hub_->mu_);
    if (closed_) return;
    progress_requested_ = true;
    hub_->MaybeSendProgress(this, &wake);
  }
  hub_->WakeAll(wake);
}

bool WatchStream::Pop(WatchMessage* out) {
  absl::MutexLock l(&hub_->mu_);
  if (queue_.empty()) {
    idle_ = true;
    return false;
  }
  *out = std::move(queue_.front());
  queue_.pop_front();
  if (out->kind == WatchMessage::Kind::kEvents) {
    // Room again: let the hub resume catching up this stream's watchers.
    if (queued_events_-- == hub_->options_.stream_capacity && unsynced_ > 0) {
      hub_->catchup_ready_ = true;
    }
  }
  return true;
}

size_t WatchStream::ControlBacklog() const {
  absl::MutexLock l(&hub_->mu_);
  return queue_.size() - queued_events_;
}

void WatchStream::Close() {
  {
    absl::MutexLock l(&hub_->mu_);
    if (!closed_) {
      closed_ = true;
      for (auto& [id, w] : watchers_) hub_->Remove(w.get());
      watchers_.clear();
      queue_.clear();
      queued_events_ = 0;
      hub_->streams_.erase(this);
      hub_->progress_waiting_.erase(this);
    }
  }
  absl::MutexLock l(&wake_mu_);
  wake_ = nullptr;
}

void WatchStream::Wake() {
  absl::MutexLock l(&wake_mu_);
  if (wake_) wake_();
}

}  // namespace raftkv::kv::watch
