// Storage: the Raft core's read-only view of the durable log.
//
// The core reads entries, terms and the latest snapshot through this
// interface; it never writes. The driver writes what a Ready tells it to
// (entries, hard state, snapshot) through the concrete class's own methods —
// MemoryStorage here for tests, wal::DurableLog for the server — and only
// then calls Advance().
//
// Index space: a Storage holds the entries (snapshot.index, last_index]. The
// entry at the snapshot index itself is gone, but its term is remembered, so
// Term(FirstIndex() - 1) always succeeds.
#ifndef RAFTKV_RAFT_STORAGE_H_
#define RAFTKV_RAFT_STORAGE_H_

#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/raftpb.pb.h"

namespace raftkv::raft {

using raftpb::ConfState;
using raftpb::Entry;
using raftpb::HardState;
using raftpb::Message;
using raftpb::Snapshot;

inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// The expected failures of a Storage read.
// - ErrCompacted: the index is at or below the snapshot (use the snapshot).
// - ErrUnavailable: the index is above the last index.
// - anything else: an I/O failure; the core treats it as fatal.
absl::Status ErrCompacted();
absl::Status ErrUnavailable();
bool IsCompacted(const absl::Status& s);
bool IsEntryUnavailable(const absl::Status& s);

// What a node restarts from: its persisted vote/term/commit and membership.
struct InitialState {
  HardState hard_state;
  ConfState conf_state;
};

class Storage {
 public:
  virtual ~Storage() = default;

  virtual absl::StatusOr<InitialState> GetInitialState() const = 0;

  // Entries [lo, hi), stopping early once their total ByteSizeLong() would
  // exceed max_bytes (but always at least one entry when lo < hi).
  // REQUIRES: FirstIndex() <= lo <= hi <= LastIndex() + 1, else
  // ErrCompacted / ErrUnavailable.
  virtual absl::StatusOr<std::vector<Entry>> Entries(
      uint64_t lo, uint64_t hi, uint64_t max_bytes) const = 0;

  // Term of the entry at index, for FirstIndex()-1 <= index <= LastIndex().
  virtual absl::StatusOr<uint64_t> Term(uint64_t index) const = 0;

  // Index of the first entry still held (snapshot index + 1).
  virtual uint64_t FirstIndex() const = 0;
  // Index of the last entry (the snapshot index when the log is empty).
  virtual uint64_t LastIndex() const = 0;

  // The most recent snapshot (index 0 when there is none).
  virtual absl::StatusOr<Snapshot> GetSnapshot() const = 0;
};

// An in-memory Storage for tests, the simulator and benchmarks. Not thread
// safe: the single thread that drives the core also writes to it.
class MemoryStorage : public Storage {
 public:
  MemoryStorage();

  absl::StatusOr<InitialState> GetInitialState() const override;
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const override;
  absl::StatusOr<uint64_t> Term(uint64_t index) const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  absl::StatusOr<Snapshot> GetSnapshot() const override;

  void SetHardState(const HardState& hs) { hard_state_ = hs; }
  const HardState& hard_state() const { return hard_state_; }

  // Appends entries, first dropping any existing suffix that conflicts with
  // them (entries[0].index may be at or below LastIndex()). Entries at or
  // below the snapshot index are ignored.
  // REQUIRES: entries are contiguous and entries[0].index <= LastIndex() + 1.
  void Append(const std::vector<Entry>& entries);

  // Replaces the whole log with a snapshot received from a leader.
  // Returns ErrCompacted (and changes nothing) if it is older than ours.
  absl::Status ApplySnapshot(const Snapshot& snapshot);

  // Records a snapshot taken by the local state machine at `index` (which
  // must be applied, hence <= LastIndex()), and discards entries up to it.
  absl::Status CreateSnapshot(uint64_t index, const ConfState& conf_state,
                              std::string data);

  // Discards entries up to and including index, keeping the snapshot
  // metadata in step. REQUIRES: index <= LastIndex().
  absl::Status Compact(uint64_t index);

 private:
  HardState hard_state_;
  Snapshot snapshot_;
  // Invariant: entries_[0] is a dummy entry at snapshot_.metadata().index()
  // carrying that entry's term, followed by the held entries in order.
  std::vector<Entry> entries_;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_STORAGE_H_
