#include "raft/tracker.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace raftkv::raft {

raftpb::ConfState MembershipConfig::ToConfState() const {
  raftpb::ConfState cs;
  for (uint64_t id : voters.incoming.ids()) cs.add_voters(id);
  for (uint64_t id : voters.outgoing.ids()) cs.add_voters_outgoing(id);
  for (uint64_t id : learners) cs.add_learners(id);
  for (uint64_t id : learners_next) cs.add_learners_next(id);
  cs.set_auto_leave(auto_leave);
  return cs;
}

std::string MembershipConfig::DebugString() const {
  std::string out = "voters=" + voters.DebugString();
  if (!learners.empty()) {
    absl::StrAppend(&out, " learners=(", absl::StrJoin(learners, " "), ")");
  }
  if (!learners_next.empty()) {
    absl::StrAppend(&out, " learners_next=(", absl::StrJoin(learners_next, " "),
                    ")");
  }
  if (auto_leave) absl::StrAppend(&out, " autoleave");
  return out;
}

uint64_t ProgressTracker::Committed() const {
  return config.voters.CommittedIndex([this](uint64_t id, uint64_t* index) {
    auto it = progress.find(id);
    if (it == progress.end()) return false;
    *index = it->second.match_index;
    return true;
  });
}

bool ProgressTracker::QuorumActive() const {
  std::map<uint64_t, bool> active;
  for (const auto& [id, pr] : progress) {
    if (!pr.is_learner) active[id] = pr.recent_active;
  }
  return config.voters.Vote(active) == VoteResult::kWon;
}

VoteResult ProgressTracker::RecordVote(uint64_t id, bool granted) {
  votes_.emplace(id, granted);
  return TallyVotes();
}

void ProgressTracker::Reset(const raftpb::ConfState& cs, uint64_t next) {
  config = MembershipConfig();
  progress.clear();
  auto add = [&](uint64_t id, bool learner) {
    if (!progress.count(id)) {
      progress.emplace(id, Progress(next, max_inflight_, learner));
    }
  };
  for (uint64_t id : cs.voters()) {
    config.voters.incoming.mutable_ids().insert(id);
    add(id, false);
  }
  for (uint64_t id : cs.voters_outgoing()) {
    config.voters.outgoing.mutable_ids().insert(id);
    add(id, false);
  }
  for (uint64_t id : cs.learners()) {
    config.learners.insert(id);
    add(id, true);
  }
  for (uint64_t id : cs.learners_next()) config.learners_next.insert(id);
  config.auto_leave = cs.auto_leave();
}

}  // namespace raftkv::raft
