// WatchHub: etcd's watchable store for raftkv. It turns the store's change
// log into per-watcher streams of events, with etcd's semantics exactly:
// ordered, unique, atomic (a revision's events in one message), reliable (no
// gap), resumable and bookmarkable (see DESIGN.md "Watch", docs/watch.md).
//
// Watchers are either
//  - synced: every event of theirs up to published() has been handed to
//    their stream. Each new revision range the apply thread reports through
//    Notify() is read ONCE from the store (MvccStore::ReadChanges) into an
//    immutable EventBatch shared by every synced watcher; or
//  - unsynced: behind (started in the past, or their stream was full). The
//    hub reads their backlog from the store in bounded batches while their
//    stream has room, and moves them to the synced set when next_rev ==
//    published() + 1 — under the same lock that advances published(), so
//    there is neither a gap nor a duplicate at the switch.
// A watcher whose next revision falls below the store's compact revision is
// cancelled with compact_revision set, never silently skipped.
//
// The apply thread never waits for a watcher: Notify() reads the new
// revisions once (a bounded read of what was just written) and appends a
// reference to the shared batch to each matching stream's bounded queue;
// waking idle streams, catch-up reads and progress ticks run on the hub's
// own thread ("watch-hub"). Publishing before the next batch is applied
// matters: a compaction in that batch must not remove revisions that synced
// watchers have not been handed yet. A stream
// holds at most HubOptions::stream_capacity event messages; a watcher whose
// stream is full drops to the unsynced set instead of queueing more, so
// memory stays bounded whatever a client does.
//
// Thread safety: thread-safe. One mutex `mu_` guards every watcher, stream
// queue and revision; no store read happens under it (reads run between a
// snapshot of the work under the lock and its delivery under the lock,
// which re-checks what changed meanwhile). Wake-ups of idle streams run
// without `mu_` (lock order: WatchStream::wake_mu_ before mu_).
#ifndef RAFTKV_KV_WATCH_WATCH_HUB_H_
#define RAFTKV_KV_WATCH_WATCH_HUB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kv/mvcc_store.h"
#include "kv/watch/types.h"

namespace raftkv::kv::watch {

class WatchHub;

// One watcher. Owned by its stream; the hub's sets hold raw pointers.
struct Watcher {
  WatchSpec spec;
  int64_t id = 0;
  // Unique per hub: tells a watcher from a later one at the same address.
  uint64_t serial = 0;
  class WatchStream* stream = nullptr;
  // The first revision whose events have not been handed to the stream.
  // Invariant: for a synced watcher, next_rev > published() or it is a
  // future watcher (next_rev > published() + 1).
  int64_t next_rev = 0;
  bool synced = false;
  // An event message went out since the last periodic progress tick.
  bool sent_since_tick = false;
};

// A client's gRPC stream: many watchers, one ordered queue of messages.
// Created by WatchHub::OpenStream; the transport calls Create / Cancel /
// RequestProgress as requests arrive and Pop to send.
//
// Thread safety: thread-safe (state under the hub's mutex). `wake` runs on
// the hub thread or a transport thread, never with the hub's mutex held.
class WatchStream {
 public:
  ~WatchStream();

  // Adds a watcher; a kCreated message (refused: also canceled, with etcd's
  // reason and watch id -1) precedes every event message of the watcher.
  void Create(WatchSpec spec) ABSL_LOCKS_EXCLUDED(mu());
  // Cancels watch `id`: queued events of it are dropped and a kCanceled
  // message follows. An unknown id is ignored, as in etcd.
  void Cancel(int64_t id) ABSL_LOCKS_EXCLUDED(mu());
  // Asks for a broadcast progress notification (watch id -1). It is queued
  // once every watcher of the stream is synced, behind all their events, so
  // its revision never runs ahead of unsent events (etcd #15220).
  void RequestProgress() ABSL_LOCKS_EXCLUDED(mu());
  // Takes the next message to send. Returns false when the queue is empty;
  // the stream then counts as idle and `wake` runs when a message arrives.
  bool Pop(WatchMessage* out) ABSL_LOCKS_EXCLUDED(mu());
  // Control messages (created, canceled, progress) waiting; the transport
  // stops reading requests while there are many (bounds memory).
  size_t ControlBacklog() const ABSL_LOCKS_EXCLUDED(mu());
  // Removes every watcher and stops wake-ups; waits for a wake-up in
  // progress. Call before dropping the stream. Idempotent.
  void Close() ABSL_LOCKS_EXCLUDED(mu(), wake_mu_);

 private:
  friend class WatchHub;
  WatchStream(WatchHub* hub, std::function<void()> wake);
  absl::Mutex* mu() const;
  // Runs `wake_` unless closed.
  void Wake() ABSL_LOCKS_EXCLUDED(wake_mu_);

  WatchHub* const hub_;
  absl::Mutex wake_mu_ ABSL_ACQUIRED_BEFORE(mu());
  std::function<void()> wake_ ABSL_GUARDED_BY(wake_mu_);

  // Everything below is guarded by the hub's mutex.
  std::map<int64_t, std::unique_ptr<Watcher>> watchers_;
  int64_t next_id_ = 0;
  std::deque<WatchMessage> queue_;
  // Invariant: event messages in queue_.
  size_t queued_events_ = 0;
  size_t unsynced_ = 0;
  bool progress_requested_ = false;
  // Pop found the queue empty; the next push must wake the transport.
  bool idle_ = true;
  bool closed_ = false;
};

class WatchHub {
 public:
  // Where the current store is; called for every read (the store may be
  // swapped by a snapshot install, so the hub never keeps it).
  using StoreProvider = std::function<std::shared_ptr<MvccStore>()>;
  struct Stats {
    size_t streams = 0;
    size_t synced = 0;
    size_t unsynced = 0;
    size_t queued_messages = 0;
    int64_t published = 0;
    uint64_t batches_read = 0;
    uint64_t batches_skipped = 0;
    uint64_t catchup_reads = 0;
  };

  WatchHub(StoreProvider store, HubOptions options);
  // REQUIRES: every stream was closed.
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // The store has applied everything up to `revision` (called on the apply
  // thread after each batch and after a snapshot install). Hands the new
  // events to synced watchers before returning; never waits for a watcher
  // or a transport (wake-ups are left to the hub thread).
  void Notify(int64_t revision) ABSL_LOCKS_EXCLUDED(publish_mu_, mu_);

  // A new stream. `wake` is called when an idle stream gets a message.
  std::shared_ptr<WatchStream> OpenStream(std::function<void()> wake)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every synced watcher has been handed its events up to this revision.
  int64_t published() const ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until published() >= revision or `timeout`; for tests.
  bool AwaitPublished(int64_t revision, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class WatchStream;
  using WakeList = std::vector<std::shared_ptr<WatchStream>>;

  void Run();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads (target_ - published_] in batches and hands them to synced
  // watchers.
  void PublishLive(WakeList* wake) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Offers a progress response to every stream waiting for one.
  void SendWaitingProgress(WakeList* wake) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One catch-up read for unsynced watchers whose streams have room.
  void CatchUp(WakeList* wake) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ProgressTick(WakeList* wake) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives `w` the events batch->events[indices] (those at or after
  // w->next_rev that it accepts) and moves next_rev past the batch. Returns
  // false (nothing changed) if they do not fit in the stream.
  bool Deliver(Watcher* w, const std::shared_ptr<const EventBatch>& batch,
               std::vector<uint32_t> indices, int64_t revision, WakeList* wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Push(WatchStream* s, WatchMessage m, WakeList* wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddSynced(Watcher* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveSynced(Watcher* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MakeUnsynced(Watcher* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(Watcher* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes `w` and queues its kCanceled message; with `drop_queued`, its
  // unsent event messages go too (a client's cancel: nothing follows it).
  void CancelWatcher(Watcher* w, int64_t compact_revision, std::string reason,
                     bool drop_queued, WakeList* wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a requested broadcast progress notification if due.
  void MaybeSendProgress(WatchStream* s, WakeList* wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WakeAll(const WakeList& wake) ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<WatchStream> Shared(WatchStream* s)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const StoreProvider store_;
  const HubOptions options_;

  // Serializes publishers (the apply thread; tests).
  absl::Mutex publish_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  // Streams to wake, handed from the publisher to the hub thread.
  WakeList pending_wakes_ ABSL_GUARDED_BY(mu_);
  // Invariant: every synced watcher has been handed all its events with
  // revision <= published_.
  int64_t published_ ABSL_GUARDED_BY(mu_) = 0;
  // The store's revision as last reported by Notify().
  int64_t target_ ABSL_GUARDED_BY(mu_) = 0;
  // Some unsynced watcher may be able to make progress.
  bool catchup_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_tick_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<WatchStream*, std::weak_ptr<WatchStream>> streams_
      ABSL_GUARDED_BY(mu_);
  // Synced watchers of one key, and synced watchers of a range.
  std::unordered_map<std::string, std::unordered_set<Watcher*>> key_synced_
      ABSL_GUARDED_BY(mu_);
  std::unordered_set<Watcher*> range_synced_ ABSL_GUARDED_BY(mu_);
  size_t synced_count_ ABSL_GUARDED_BY(mu_) = 0;
  // Synced watchers that want previous values.
  size_t synced_prev_kv_ ABSL_GUARDED_BY(mu_) = 0;
  // Published batches not read because no watcher was synced.
  uint64_t batches_skipped_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_set<Watcher*> unsynced_ ABSL_GUARDED_BY(mu_);
  // Streams with a requested progress notification not yet queued.
  std::unordered_set<WatchStream*> progress_waiting_ ABSL_GUARDED_BY(mu_);
  uint64_t next_serial_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t batches_read_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t catchup_reads_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread thread_;
};

}  // namespace raftkv::kv::watch

#endif  // RAFTKV_KV_WATCH_WATCH_HUB_H_
