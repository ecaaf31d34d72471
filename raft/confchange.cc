#include "raft/confchange.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace raftkv::raft {
namespace {

class Changer {
 public:
  Changer(const MembershipConfig& config, const ProgressMap& progress,
          size_t max_inflight, uint64_t last_index)
      : result_{config, progress},
        max_inflight_(max_inflight),
        last_index_(last_index) {}

  absl::Status Apply(const raftpb::ConfChange& cc) {
    for (const auto& c : cc.changes()) {
      if (c.node_id() == 0) continue;  // ignored, as a no-op
      switch (c.type()) {
        case raftpb::CONF_ADD_VOTER:
          MakeVoter(c.node_id());
          break;
        case raftpb::CONF_ADD_LEARNER:
          MakeLearner(c.node_id());
          break;
        case raftpb::CONF_REMOVE_NODE:
          Remove(c.node_id());
          break;
        default:
          return absl::InvalidArgumentError(
              absl::StrCat("unknown conf change type ", c.type()));
      }
    }
    if (result_.config.voters.incoming.empty()) {
      return absl::InvalidArgumentError("removed all voters");
    }
    return absl::OkStatus();
  }

  ConfChangeResult& result() { return result_; }

 private:
  MembershipConfig& cfg() { return result_.config; }

  void EnsureProgress(uint64_t id, bool learner) {
    auto it = result_.progress.find(id);
    if (it == result_.progress.end()) {
      Progress pr(last_index_ + 1, max_inflight_, learner);
      // A new member counts as active, so that the leader does not step down
      // (check-quorum) before it had a chance to answer.
      pr.recent_active = true;
      result_.progress.emplace(id, std::move(pr));
    } else {
      it->second.is_learner = learner;
    }
  }

  void MakeVoter(uint64_t id) {
    EnsureProgress(id, /*learner=*/false);
    cfg().learners.erase(id);
    cfg().learners_next.erase(id);
    cfg().voters.incoming.mutable_ids().insert(id);
  }

  void MakeLearner(uint64_t id) {
    if (cfg().learners.count(id)) return;
    // Drop it from the incoming voters first; if it still votes in the
    // outgoing half, it becomes a learner only when the joint config is left.
    RemoveFromConfig(id);
    if (cfg().voters.outgoing.Contains(id)) {
      cfg().learners_next.insert(id);
      EnsureProgress(id, /*learner=*/false);
    } else {
      cfg().learners.insert(id);
      EnsureProgress(id, /*learner=*/true);
    }
  }

  void Remove(uint64_t id) {
    RemoveFromConfig(id);
    if (!cfg().voters.outgoing.Contains(id)) result_.progress.erase(id);
  }

  void RemoveFromConfig(uint64_t id) {
    cfg().voters.incoming.mutable_ids().erase(id);
    cfg().learners.erase(id);
    cfg().learners_next.erase(id);
  }

  ConfChangeResult result_;
  size_t max_inflight_;
  uint64_t last_index_;
};

absl::StatusOr<ConfChangeResult> LeaveJoint(const MembershipConfig& config,
                                            const ProgressMap& progress) {
  if (!config.voters.joint()) {
    return absl::InvalidArgumentError("can't leave a non-joint config");
  }
  ConfChangeResult r{config, progress};
  for (uint64_t id : r.config.learners_next) {
    r.config.learners.insert(id);
    r.progress.at(id).is_learner = true;
  }
  r.config.learners_next.clear();
  for (uint64_t id : r.config.voters.outgoing.ids()) {
    if (!r.config.voters.incoming.Contains(id) &&
        !r.config.learners.count(id)) {
      r.progress.erase(id);
    }
  }
  r.config.voters.outgoing = MajorityConfig();
  r.config.auto_leave = false;
  return r;
}

size_t SymmetricDifference(const std::set<uint64_t>& a,
                           const std::set<uint64_t>& b) {
  size_t n = 0;
  for (uint64_t id : a) n += b.count(id) ? 0 : 1;
  for (uint64_t id : b) n += a.count(id) ? 0 : 1;
  return n;
}

}  // namespace

bool IsLeaveJoint(const raftpb::ConfChange& cc) {
  return cc.changes().empty() && cc.transition() == raftpb::TRANSITION_AUTO;
}

bool UsesJoint(const raftpb::ConfChange& cc) {
  return cc.changes_size() > 1 || cc.transition() != raftpb::TRANSITION_AUTO;
}

absl::StatusOr<ConfChangeResult> ApplyConfChange(const MembershipConfig& config,
                                                 const ProgressMap& progress,
                                                 size_t max_inflight,
                                                 uint64_t last_index,
                                                 const raftpb::ConfChange& cc) {
  if (IsLeaveJoint(cc)) return LeaveJoint(config, progress);
  if (config.voters.joint()) {
    return absl::InvalidArgumentError(
        "config is already joint; leave it before another change");
  }
  Changer changer(config, progress, max_inflight, last_index);
  if (UsesJoint(cc)) {
    changer.result().config.voters.outgoing = config.voters.incoming;
    changer.result().config.auto_leave =
        cc.transition() != raftpb::TRANSITION_JOINT_EXPLICIT;
  }
  if (absl::Status s = changer.Apply(cc); !s.ok()) return s;
  if (!UsesJoint(cc) &&
      SymmetricDifference(config.voters.incoming.ids(),
                          changer.result().config.voters.incoming.ids()) > 1) {
    return absl::InvalidArgumentError(
        "more than one voter changed without entering a joint config");
  }
  return std::move(changer.result());
}

}  // namespace raftkv::raft
