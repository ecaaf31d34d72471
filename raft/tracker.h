// ProgressTracker: the membership (a possibly joint configuration plus
// learners), the leader's Progress for each member, and votes in the
// current election.
#ifndef RAFTKV_RAFT_TRACKER_H_
#define RAFTKV_RAFT_TRACKER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "raft/progress.h"
#include "raft/quorum.h"
#include "raft/raftpb.pb.h"

namespace raftkv::raft {

struct MembershipConfig {
  JointConfig voters;
  // Invariant: learners and voters are disjoint.
  std::set<uint64_t> learners;
  // Voters of the outgoing half that become learners when the joint
  // configuration is left. Invariant: each is in voters.outgoing.
  std::set<uint64_t> learners_next;
  // Leave the joint configuration automatically (see ConfState.auto_leave).
  bool auto_leave = false;

  raftpb::ConfState ToConfState() const;
  std::string DebugString() const;
};

using ProgressMap = std::map<uint64_t, Progress>;

class ProgressTracker {
 public:
  explicit ProgressTracker(size_t max_inflight) : max_inflight_(max_inflight) {}

  MembershipConfig config;
  // Invariant: one entry per voter and learner of config.
  ProgressMap progress;

  size_t max_inflight() const { return max_inflight_; }

  bool IsSingleton() const {
    return config.voters.incoming.size() == 1 && !config.voters.joint();
  }
  bool IsVoter(uint64_t id) const { return config.voters.Contains(id); }

  // The largest index acknowledged by a quorum of voters.
  uint64_t Committed() const;

  // Whether a quorum of voters was recently active (check-quorum).
  bool QuorumActive() const;

  void ResetVotes() { votes_.clear(); }
  // Records a vote (the first one per voter counts) and tallies.
  VoteResult RecordVote(uint64_t id, bool granted);
  VoteResult TallyVotes() const { return config.voters.Vote(votes_); }
  const std::map<uint64_t, bool>& votes() const { return votes_; }

  // Replaces the membership (restoring a snapshot or restarting): fresh
  // Progress for every member, next_index = next.
  void Reset(const raftpb::ConfState& cs, uint64_t next);

 private:
  size_t max_inflight_;
  std::map<uint64_t, bool> votes_;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_TRACKER_H_
