// Log replication: AppendEntries (pipelined per follower), heartbeats,
// snapshots, and the leader's commit rule.
#include <algorithm>

#include "raft/check.h"
#include "raft/raft_impl.h"

namespace raftkv::raft {

using raftpb::Entry;
using raftpb::Message;

// Appends entries of the current term to the leader's log. Returns false
// (appending nothing) if the node is no longer a member.
bool Raft::Impl::AppendEntry(std::vector<Entry> entries) {
  uint64_t index = log_.LastIndex();
  for (Entry& e : entries) {
    e.set_term(term_);
    e.set_index(++index);
  }
  log_.Append(entries);
  // The leader's own acknowledgement comes in Advance(), once the entries
  // are durable (thesis 10.2.1: the leader writes in parallel with sending).
  return true;
}

void Raft::Impl::BroadcastAppend() {
  for (const auto& [id, pr] : tracker_.progress) {
    if (id != id_) MaybeSendAppend(id, /*send_if_empty=*/true);
  }
}

void Raft::Impl::BroadcastHeartbeat(const std::string& ctx) {
  for (const auto& [id, pr] : tracker_.progress) {
    if (id != id_) SendHeartbeat(id, ctx);
  }
}

void Raft::Impl::SendHeartbeat(uint64_t to, const std::string& ctx) {
  // Never tell a follower to commit past what it is known to hold: it may
  // not have those entries yet.
  const auto& pr = tracker_.progress.at(to);
  Message m;
  m.set_to(to);
  m.set_type(raftpb::MSG_HEARTBEAT);
  m.set_commit(std::min(pr.match_index, log_.committed()));
  m.set_context(ctx);
  Send(std::move(m));
}

// Sends the follower the next AppendEntries (or a snapshot if the entries
// it needs are compacted). Returns whether a message was sent.
bool Raft::Impl::MaybeSendAppend(uint64_t to, bool send_if_empty) {
  auto it = tracker_.progress.find(to);
  if (it == tracker_.progress.end()) return false;
  Progress& pr = it->second;
  if (pr.IsPaused()) return false;
  const uint64_t prev_index = pr.next_index - 1;
  auto prev_term = log_.Term(prev_index);
  auto entries = log_.EntriesFrom(pr.next_index, config_.max_size_per_msg);
  if (!prev_term.ok() || !entries.ok()) {
    const absl::Status& s =
        prev_term.ok() ? entries.status() : prev_term.status();
    // Anything but compaction is a storage failure: fail closed.
    if (!IsCompacted(s)) RAFTKV_CHECK_EQ(s.ToString(), "compacted");
    return SendSnapshot(to, pr);
  }
  if (entries->empty() && !send_if_empty) return false;
  Message m;
  m.set_to(to);
  m.set_type(raftpb::MSG_APPEND_ENTRIES);
  m.set_index(prev_index);
  m.set_log_term(*prev_term);
  m.set_commit(log_.committed());
  if (!entries->empty()) {
    const uint64_t last = entries->back().index();
    for (auto& e : *entries) *m.add_entries() = std::move(e);
    if (pr.state == Progress::State::kReplicate) {
      pr.OptimisticUpdate(last);
      pr.inflights.Add(last);
    }
  }
  if (pr.state == Progress::State::kProbe) pr.probe_sent = true;
  Send(std::move(m));
  return true;
}

bool Raft::Impl::SendSnapshot(uint64_t to, Progress& pr) {
  // Only send to a follower known to be alive: snapshots are expensive.
  if (!pr.recent_active) return false;
  auto snapshot = log_.GetSnapshot();
  if (!snapshot.ok()) return false;  // temporarily unavailable
  RAFTKV_CHECK_NE(snapshot->metadata().index(), 0u);
  Message m;
  m.set_to(to);
  m.set_type(raftpb::MSG_INSTALL_SNAPSHOT);
  *m.mutable_snapshot() = std::move(*snapshot);
  pr.BecomeSnapshot(m.snapshot().metadata().index());
  Send(std::move(m));
  return true;
}

bool Raft::Impl::CommittedEntryInCurrentTerm() const {
  return log_.TermOrZero(log_.committed()) == term_;
}

// Leader commit rule (paper 5.3, 5.4.2): an index is committed once a
// quorum holds it AND its entry is of the current term; earlier entries are
// committed indirectly (Figure 8).
bool Raft::Impl::MaybeCommit() {
  const uint64_t index = tracker_.Committed();
  if (index <= log_.committed()) return false;
  const uint64_t capped = std::min(index, log_.LastIndex());
  if (!config_.testing.unsafe_commit_previous_term &&
      log_.TermOrZero(capped) != term_) {
    return false;
  }
  log_.CommitTo(capped);
  OnCommitAdvanced();
  return true;
}

void Raft::Impl::OnCommitAdvanced() {
  if (CommittedEntryInCurrentTerm()) ReleasePendingReads();
}

void Raft::Impl::HandleAppendEntries(const Message& m) {
  Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MSG_APPEND_ENTRIES_RESPONSE);
  if (m.index() < log_.committed()) {
    // Everything up to our commit index matches the leader's log already.
    resp.set_index(log_.committed());
    Send(std::move(resp));
    return;
  }
  std::vector<Entry> entries(m.entries().begin(), m.entries().end());
  if (auto last =
          log_.MaybeAppend(m.index(), m.log_term(), m.commit(), entries)) {
    resp.set_index(*last);
    Send(std::move(resp));
    return;
  }
  // Reject with a hint: the last index at or below the leader's probe whose
  // term is <= the probe's term, so the leader skips a whole term at once.
  const auto [hint_index, hint_term] = log_.FindConflictByTerm(
      std::min(m.index(), log_.LastIndex()), m.log_term());
  resp.set_index(m.index());
  resp.set_reject(true);
  resp.set_reject_hint(hint_index);
  resp.set_log_term(hint_term);
  Send(std::move(resp));
}

void Raft::Impl::HandleAppendResponse(const Message& m, Progress& pr) {
  pr.recent_active = true;
  if (m.reject()) {
    uint64_t next_probe = m.reject_hint();
    if (m.log_term() > 0) {
      next_probe = log_.FindConflictByTerm(m.reject_hint(), m.log_term()).first;
    }
    if (pr.MaybeDecrTo(m.index(), next_probe)) {
      if (pr.state == Progress::State::kReplicate) pr.BecomeProbe();
      MaybeSendAppend(m.from(), /*send_if_empty=*/true);
    }
    return;
  }
  const bool was_paused = pr.IsPaused();
  if (!pr.MaybeUpdate(m.index())) return;
  switch (pr.state) {
    case Progress::State::kProbe:
      pr.BecomeReplicate();
      break;
    case Progress::State::kSnapshot:
      if (pr.match_index >= pr.pending_snapshot) {
        pr.BecomeProbe();
        pr.BecomeReplicate();
      }
      break;
    case Progress::State::kReplicate:
      pr.inflights.FreeLE(m.index());
      break;
  }
  if (MaybeCommit()) {
    BroadcastAppend();
  } else if (was_paused) {
    MaybeSendAppend(m.from(), /*send_if_empty=*/true);
  }
  // Fill the window while there are entries to send.
  while (MaybeSendAppend(m.from(), /*send_if_empty=*/false)) {
  }
  if (m.from() == lead_transferee_ && pr.match_index == log_.LastIndex()) {
    Message timeout;
    timeout.set_to(m.from());
    timeout.set_type(raftpb::MSG_TIMEOUT_NOW);
    Send(std::move(timeout));
  }
}

void Raft::Impl::HandleHeartbeat(const Message& m) {
  log_.CommitTo(m.commit());
  Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MSG_HEARTBEAT_RESPONSE);
  resp.set_context(m.context());
  Send(std::move(resp));
}

void Raft::Impl::HandleHeartbeatResponse(const Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.probe_sent = false;
  if (pr.state == Progress::State::kReplicate && pr.inflights.Full()) {
    // The follower is alive: free one slot so replication cannot stall on
    // lost AppendEntries.
    pr.inflights.FreeFirstOne();
  }
  if (pr.match_index < log_.LastIndex()) {
    MaybeSendAppend(m.from(), /*send_if_empty=*/true);
  }
  const uint64_t round = ReadOnly::DecodeRoundId(m.context());
  if (round == 0) return;
  for (const ReadRound& done :
       read_only_.Ack(m.from(), round, tracker_.config.voters)) {
    for (const ReadRequest& req : done.requests) RespondToRead(req, done.index);
  }
}

void Raft::Impl::HandleSnapshot(const Message& m) {
  Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MSG_APPEND_ENTRIES_RESPONSE);
  if (RestoreSnapshot(m.snapshot())) {
    resp.set_index(log_.LastIndex());
  } else {
    resp.set_index(log_.committed());
  }
  Send(std::move(resp));
}

// Installs a leader's snapshot. Returns false when it brings nothing new.
bool Raft::Impl::RestoreSnapshot(const raftpb::Snapshot& s) {
  const auto& meta = s.metadata();
  if (meta.index() <= log_.committed()) return false;
  RAFTKV_CHECK(role_ == Role::kFollower);
  if (log_.MatchTerm(meta.index(), meta.term())) {
    // We already have the entries; just learn that they are committed.
    log_.CommitTo(meta.index());
    return false;
  }
  log_.Restore(s);
  tracker_.Reset(meta.conf_state(), log_.LastIndex() + 1);
  return true;
}

}  // namespace raftkv::raft
