// Progress: the leader's view of one follower's replication (Raft thesis
// 10.2; etcd's "probe / replicate / snapshot" states).
//
// - probe: the leader does not know the follower's match_index; it sends one
//   AppendEntries at a time and waits for the answer (fast backtracking on
//   rejection).
// - replicate: the follower is keeping up; the leader pipelines
//   AppendEntries optimistically, bounded by the in-flight window.
// - snapshot: the follower needs a snapshot; nothing else is sent until the
//   transport reports the snapshot's outcome or the follower acknowledges.
#ifndef RAFTKV_RAFT_PROGRESS_H_
#define RAFTKV_RAFT_PROGRESS_H_

#include <cstdint>
#include <deque>
#include <string>

namespace raftkv::raft {

// A bounded window of in-flight AppendEntries, identified by the last index
// each carried.
class Inflights {
 public:
  explicit Inflights(size_t capacity) : capacity_(capacity) {}
  bool Full() const { return indexes_.size() >= capacity_; }
  size_t Count() const { return indexes_.size(); }
  // REQUIRES: !Full() and index larger than every index added before.
  void Add(uint64_t index);
  // Frees every message whose last index is <= index (acknowledged).
  void FreeLE(uint64_t index);
  // Frees the oldest message (a heartbeat answer shows the follower is
  // alive though an AppendEntries was lost).
  void FreeFirstOne() {
    if (!indexes_.empty()) indexes_.pop_front();
  }
  void Reset() { indexes_.clear(); }

 private:
  size_t capacity_;
  std::deque<uint64_t> indexes_;
};

class Progress {
 public:
  enum class State { kProbe, kReplicate, kSnapshot };

  Progress(uint64_t next_index, size_t max_inflight, bool is_learner)
      : next_index(next_index),
        is_learner(is_learner),
        inflights(max_inflight) {}

  // Invariant: match_index < next_index.
  uint64_t match_index = 0;
  uint64_t next_index = 1;
  State state = State::kProbe;
  // In snapshot state: the index of the snapshot being sent.
  uint64_t pending_snapshot = 0;
  // Whether the follower answered since the last check-quorum round.
  bool recent_active = false;
  // In probe state: an AppendEntries is outstanding, send no other.
  bool probe_sent = false;
  bool is_learner = false;
  Inflights inflights;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);

  // The follower acknowledged `index`. Returns false if that was stale.
  bool MaybeUpdate(uint64_t index);
  // Records that entries up to `last` were sent (replicate state).
  void OptimisticUpdate(uint64_t last) { next_index = last + 1; }
  // The follower rejected an AppendEntries whose previous index was
  // `rejected`; `match_hint` is where the leader should try next. Returns
  // false when the rejection is stale (already handled).
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  // Whether the leader must hold off sending AppendEntries.
  bool IsPaused() const;

  std::string StateName() const;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_PROGRESS_H_
