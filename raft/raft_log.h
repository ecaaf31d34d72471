// RaftLog: the log as the core sees it — the stable part in Storage plus an
// unstable tail (entries and possibly a snapshot) not yet persisted.
//
//   snapshot.index  first_index ... stable_last  unstable_offset ... last_index
//   |<-- compacted -->|<-- Storage (durable) -->|<---- unstable ---->|
//
// Invariants: applied <= committed <= last_index; applied <= stable_last
// (the core only hands out entries that are durable on this node).
#ifndef RAFTKV_RAFT_RAFT_LOG_H_
#define RAFTKV_RAFT_RAFT_LOG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/raftpb.pb.h"
#include "raft/storage.h"

namespace raftkv::raft {

class RaftLog {
 public:
  explicit RaftLog(Storage* storage);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // Term of the entry at index; ErrCompacted / ErrUnavailable outside the
  // log, other errors are storage failures (fatal to the caller).
  absl::StatusOr<uint64_t> Term(uint64_t index) const;
  // Term, or 0 when the index is outside the log.
  uint64_t TermOrZero(uint64_t index) const;
  bool MatchTerm(uint64_t index, uint64_t term) const;
  // Whether (last_term, last_index) is at least as up to date as ours
  // (Raft paper 5.4.1).
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const;

  // Entries [lo, last_index], at most max_bytes (at least one entry).
  absl::StatusOr<std::vector<raftpb::Entry>> EntriesFrom(
      uint64_t lo, uint64_t max_bytes) const;
  absl::StatusOr<raftpb::Snapshot> GetSnapshot() const;

  // AppendEntries on a follower: if the entry at prev_index has prev_term,
  // appends entries (dropping a conflicting suffix), advances the commit
  // index to min(leader_commit, last new index) and returns that last new
  // index; otherwise returns nullopt.
  std::optional<uint64_t> MaybeAppend(
      uint64_t prev_index, uint64_t prev_term, uint64_t leader_commit,
      const std::vector<raftpb::Entry>& entries);
  // Appends to the unstable tail, truncating from entries[0].index.
  // REQUIRES: entries[0].index > committed.
  uint64_t Append(const std::vector<raftpb::Entry>& entries);

  // The largest index <= index whose term is <= term, with that term; used
  // to skip a whole conflicting term per round trip (fast backtracking).
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index,
                                                   uint64_t term) const;

  void CommitTo(uint64_t index);
  void AppliedTo(uint64_t index);

  // Entries that are committed, durable, not yet handed out for apply.
  bool HasNextCommittedEntries() const;
  std::vector<raftpb::Entry> NextCommittedEntries(uint64_t max_bytes) const;
  // Marks entries up to index as handed out (not yet applied).
  void ApplyingTo(uint64_t index) { applying_ = index; }

  // Replaces the log with a snapshot from the leader (unstable until
  // persisted).
  void Restore(const raftpb::Snapshot& snapshot);

  // The driver persisted entries up to (index, term) / the snapshot.
  void StableTo(uint64_t index, uint64_t term);
  void StableSnapTo(uint64_t index);

  // The last index known to be durable on this node.
  uint64_t StableLastIndex() const;

  const std::vector<raftpb::Entry>& unstable_entries() const {
    return unstable_entries_;
  }
  const std::optional<raftpb::Snapshot>& unstable_snapshot() const {
    return unstable_snapshot_;
  }
  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }

 private:
  Storage* storage_;  // not owned
  // Invariant: unstable_entries_[i].index() == unstable_offset_ + i.
  std::vector<raftpb::Entry> unstable_entries_;
  uint64_t unstable_offset_;
  std::optional<raftpb::Snapshot> unstable_snapshot_;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  // Highest index handed out for apply (>= applied_).
  uint64_t applying_ = 0;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_RAFT_LOG_H_
