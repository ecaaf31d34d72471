// Ready / Advance: handing work to the driver and learning what it did.
#include "raft/check.h"
#include "raft/raft_impl.h"

namespace raftkv::raft {

namespace {

bool SameHardState(const raftpb::HardState& a, const raftpb::HardState& b) {
  return a.current_term() == b.current_term() &&
         a.voted_for() == b.voted_for() && a.commit_index() == b.commit_index();
}

}  // namespace

bool Raft::Impl::HasReady() const {
  return broadcast_pending_ || !(soft_state() == prev_soft_state_) ||
         !SameHardState(hard_state(), prev_hard_state_) ||
         log_.unstable_snapshot().has_value() ||
         !log_.unstable_entries().empty() || !msgs_.empty() ||
         !read_states_.empty() || log_.HasNextCommittedEntries();
}

Ready Raft::Impl::GetReady() {
  if (broadcast_pending_) {
    broadcast_pending_ = false;
    if (role_ == Role::kLeader) {
      for (const auto& [id, pr] : tracker_.progress) {
        if (id != id_) MaybeSendAppend(id, /*send_if_empty=*/false);
      }
    }
  }
  Ready rd;
  if (!(soft_state() == prev_soft_state_)) {
    rd.soft_state = soft_state();
    prev_soft_state_ = soft_state();
  }
  const raftpb::HardState hs = hard_state();
  if (!SameHardState(hs, prev_hard_state_)) {
    rd.must_sync = hs.current_term() != prev_hard_state_.current_term() ||
                   hs.voted_for() != prev_hard_state_.voted_for();
    rd.hard_state = hs;
    prev_hard_state_ = hs;
  }
  if (log_.unstable_snapshot()) {
    rd.snapshot = *log_.unstable_snapshot();
    rd.must_sync = true;
  }
  rd.entries = log_.unstable_entries();
  if (!rd.entries.empty()) rd.must_sync = true;
  rd.committed_entries =
      log_.NextCommittedEntries(config_.max_committed_size_per_ready);
  if (!rd.committed_entries.empty()) {
    log_.ApplyingTo(rd.committed_entries.back().index());
  }
  rd.messages.swap(msgs_);
  rd.read_states.swap(read_states_);
  // The heartbeats of the open read round are now on their way; later reads
  // need a new round.
  read_only_.CloseOpenRound();
  return rd;
}

void Raft::Impl::Advance(const Ready& rd) {
  if (rd.snapshot.metadata().index() != 0) {
    log_.StableSnapTo(rd.snapshot.metadata().index());
    log_.AppliedTo(rd.snapshot.metadata().index());
  }
  if (!rd.entries.empty()) {
    log_.StableTo(rd.entries.back().index(), rd.entries.back().term());
  }
  for (const raftpb::Entry& e : rd.committed_entries) {
    log_.AppliedTo(e.index());
    if (e.type() == raftpb::ENTRY_CONF_CHANGE) ApplyConfChangeEntry(e);
  }
  if (role_ != Role::kLeader) return;
  // Our own durable entries now count toward the quorum (thesis 10.2.1).
  auto self = tracker_.progress.find(id_);
  if (self != tracker_.progress.end() &&
      self->second.MaybeUpdate(log_.StableLastIndex()) && MaybeCommit()) {
    BroadcastAppend();
  }
  MaybeAutoLeave();
}

Status Raft::Impl::GetStatus() const {
  Status st;
  st.id = id_;
  st.hard_state = hard_state();
  st.soft_state = soft_state();
  st.applied = log_.applied();
  st.last_index = log_.LastIndex();
  st.conf_state = tracker_.config.ToConfState();
  st.lead_transferee = lead_transferee_;
  for (int k = 0; k < kNumRefusalKinds; ++k) {
    if (refused_[k] == 0) continue;
    const char* name = RefusalName(static_cast<Refusal>(k));
    st.refused[name] = refused_[k];
    st.last_refused[name] = last_refused_[k];
  }
  if (role_ == Role::kLeader) {
    for (const auto& [id, pr] : tracker_.progress) {
      st.progress[id] =
          ProgressStatus{pr.match_index, pr.next_index, pr.StateName(),
                         pr.is_learner, pr.recent_active};
    }
  }
  return st;
}

}  // namespace raftkv::raft
