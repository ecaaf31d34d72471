// Ready: the batch of work the Raft core hands to its driver.
#ifndef RAFTKV_RAFT_READY_H_
#define RAFTKV_RAFT_READY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "raft/raftpb.pb.h"

namespace raftkv::raft {

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RoleName(Role role);

// Volatile state worth reporting (never persisted).
struct SoftState {
  uint64_t leader_id = 0;  // 0: no known leader
  Role role = Role::kFollower;
  bool operator==(const SoftState&) const = default;
};

// The answer to a ReadIndex request: once the state machine has applied
// `index`, a read issued with `request_ctx` may be served from it and is
// linearizable.
struct ReadState {
  uint64_t index = 0;
  std::string request_ctx;
};

// One batch of work. The driver must handle it in this order:
//
//  1. Persist `snapshot` (if index != 0), then `entries`, then `hard_state`,
//     with one sync covering all of them when `must_sync`. Entries may
//     overwrite a conflicting suffix of the stored log.
//  2. Send `messages`. Exception (thesis 10.2.1): a message for which
//     MaySendBeforePersist() is true may be sent while step 1 runs — a
//     leader's replication traffic does not depend on its own disk.
//  3. Apply `snapshot` to the state machine (if any), then
//     `committed_entries` in order. Every committed entry is already durable
//     on this node: the core never asks to apply what a crash could undo.
//  4. Serve `read_states` once the state machine has applied their index.
//  5. Call Raft::Advance(ready). Only then do persisted entries count toward
//     this node's own acknowledgement, and only then are membership changes
//     among the committed entries applied inside the core.
struct Ready {
  std::optional<SoftState> soft_state;          // set when it changed
  std::optional<raftpb::HardState> hard_state;  // set when it changed
  raftpb::Snapshot snapshot;                    // index 0: none
  std::vector<raftpb::Entry> entries;
  std::vector<raftpb::Message> messages;
  std::vector<raftpb::Entry> committed_entries;
  std::vector<ReadState> read_states;
  bool must_sync = false;  // entries or a term/vote change need an fsync

  bool Empty() const {
    return !soft_state && !hard_state && snapshot.metadata().index() == 0 &&
           entries.empty() && messages.empty() && committed_entries.empty() &&
           read_states.empty();
  }
};

// True for a leader's AppendEntries, heartbeats and snapshots: they may leave
// before the leader's own Ready is persisted (see Ready step 2).
bool MaySendBeforePersist(const raftpb::Message& m);

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_READY_H_
