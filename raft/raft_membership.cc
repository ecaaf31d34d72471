// Membership changes: proposing them (one at a time) and applying them when
// their entry is applied, including joint consensus and leader removal.
#include <algorithm>

#include "raft/check.h"
#include "raft/raft_impl.h"

namespace raftkv::raft {

using raftpb::Entry;

absl::Status Raft::Impl::ProposeConfChange(const raftpb::ConfChange& cc) {
  if (role_ == Role::kLeader) {
    if (pending_conf_index_ > log_.applied()) {
      return absl::FailedPreconditionError(
          "raft: a membership change is already in progress");
    }
    auto result =
        ApplyConfChange(tracker_.config, tracker_.progress,
                        tracker_.max_inflight(), log_.LastIndex(), cc);
    if (!result.ok()) return result.status();
  }
  std::vector<Entry> entries(1);
  entries[0].set_type(raftpb::ENTRY_CONF_CHANGE);
  entries[0].set_data(cc.SerializeAsString());
  return Propose(std::move(entries));
}

bool Raft::Impl::HasUnappliedConfChange() const {
  const uint64_t from = std::max(log_.applied(), conf_applied_index_) + 1;
  if (log_.committed() < from) return false;
  auto entries = log_.EntriesFrom(from, kNoLimit);
  if (!entries.ok()) return false;
  for (const Entry& e : *entries) {
    if (e.index() > log_.committed()) break;
    if (e.type() == raftpb::ENTRY_CONF_CHANGE) return true;
  }
  return false;
}

// Called when a conf-change entry is applied (or replayed on restart).
// Every node applies the same entries in the same order, so an invalid
// change is skipped identically everywhere.
void Raft::Impl::ApplyConfChangeEntry(const Entry& e) {
  // Bootstrap applies its entries early; never apply an entry twice.
  if (e.index() <= conf_applied_index_) return;
  conf_applied_index_ = e.index();
  raftpb::ConfChange cc;
  if (!cc.ParseFromString(e.data())) return;
  auto result = ApplyConfChange(tracker_.config, tracker_.progress,
                                tracker_.max_inflight(), log_.LastIndex(), cc);
  if (!result.ok()) return;
  SwitchToConfig(std::move(*result));
  conf_states_.emplace_back(e.index(), tracker_.config.ToConfState());
}

void Raft::Impl::SwitchToConfig(ConfChangeResult result) {
  tracker_.config = std::move(result.config);
  tracker_.progress = std::move(result.progress);
  auto self = tracker_.progress.find(id_);
  if (role_ != Role::kLeader) return;
  if (self == tracker_.progress.end() || self->second.is_learner) {
    // The leader was removed (or demoted). It steps down; the remaining
    // voters elect a new leader after their election timeout.
    BecomeFollower(term_, 0);
    return;
  }
  if (lead_transferee_ != 0 && !tracker_.IsVoter(lead_transferee_)) {
    AbortLeaderTransfer();
  }
  // The quorum changed: maybe more is committed now; also probe new members.
  if (MaybeCommit()) {
    BroadcastAppend();
  } else {
    for (const auto& [id, pr] : tracker_.progress) {
      // send_if_empty: a member just added knows nothing yet; probe it now
      // rather than at the next heartbeat.
      if (id != id_) MaybeSendAppend(id, /*send_if_empty=*/true);
    }
  }
}

void Raft::Impl::MaybeAutoLeave() {
  if (role_ != Role::kLeader || !tracker_.config.auto_leave ||
      !tracker_.config.voters.joint() || pending_conf_index_ > log_.applied() ||
      lead_transferee_ != 0) {
    return;
  }
  // The joint configuration is in effect: leave it by proposing the empty
  // change (thesis 4.3). Also done by a new leader that inherits it.
  std::vector<Entry> leave(1);
  leave[0].set_type(raftpb::ENTRY_CONF_CHANGE);
  leave[0].set_data(raftpb::ConfChange().SerializeAsString());
  pending_conf_index_ = log_.LastIndex() + 1;
  AppendEntry(std::move(leave));
  BroadcastAppend();
}

}  // namespace raftkv::raft
