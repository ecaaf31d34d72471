// Membership changes: simple (one voter at a time) and joint consensus
// (Raft thesis 4.3). Pure functions from (configuration, progress) to a new
// (configuration, progress); the caller swaps them in when the change entry
// is applied.
#ifndef RAFTKV_RAFT_CONFCHANGE_H_
#define RAFTKV_RAFT_CONFCHANGE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "raft/raftpb.pb.h"
#include "raft/tracker.h"

namespace raftkv::raft {

struct ConfChangeResult {
  MembershipConfig config;
  ProgressMap progress;
};

// Applies cc to (config, progress). New members get Progress with
// next_index = last_index + 1. Returns InvalidArgument when the change is
// not allowed: entering a joint configuration while joint, leaving while not
// joint, a simple change touching more than one voter, or a result without
// voters.
absl::StatusOr<ConfChangeResult> ApplyConfChange(const MembershipConfig& config,
                                                 const ProgressMap& progress,
                                                 size_t max_inflight,
                                                 uint64_t last_index,
                                                 const raftpb::ConfChange& cc);

// Whether cc asks to leave a joint configuration (no changes).
bool IsLeaveJoint(const raftpb::ConfChange& cc);
// Whether cc enters a joint configuration (several changes, or explicit).
bool UsesJoint(const raftpb::ConfChange& cc);

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_CONFCHANGE_H_
