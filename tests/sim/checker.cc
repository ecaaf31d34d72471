// Checker: Raft's safety properties, checked incrementally (see checker.h).
#include "tests/sim/checker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace raftkv::sim {
namespace {

bool IsCommand(int type, const std::string& data) {
  return type == raftpb::ENTRY_NORMAL && !data.empty();
}

// The term of `index` in `storage`, or nullopt if it is compacted away or
// beyond the log.
std::optional<uint64_t> TermAt(const raft::MemoryStorage& storage,
                               uint64_t index) {
  absl::StatusOr<uint64_t> t = storage.Term(index);
  if (!t.ok()) return std::nullopt;
  return *t;
}

}  // namespace

void Checker::Fail(std::string what) {
  if (violation_) return;
  trace_->Note(absl::StrCat("VIOLATION: ", what));
  violation_ = std::move(what);
}

void Checker::BeforeAppend(uint64_t node,
                           const std::vector<raftpb::Entry>& entries,
                           const raft::MemoryStorage& storage,
                           uint64_t applied) {
  if (entries.empty()) return;
  uint64_t first = entries.front().index();
  if (first > storage.LastIndex() + 1) {
    Fail(absl::StrCat("node ", node, " asked to persist entries from index ",
                      first, " but its log ends at ", storage.LastIndex(),
                      " (gap)"));
    return;
  }
  for (const raftpb::Entry& e : entries) {
    if (e.index() > storage.LastIndex()) break;
    std::optional<uint64_t> old = TermAt(storage, e.index());
    if (!old || *old == e.term()) continue;
    if (e.index() <= applied) {
      Fail(absl::StrCat(
          "node ", node, " overwrites applied entry index=", e.index(),
          " term=", *old, " with term=", e.term(), " (applied=", applied, ")"));
    }
    return;  // the rest of the stored suffix is replaced
  }
}

void Checker::OnEntriesPersisted(uint64_t node,
                                 const std::vector<raftpb::Entry>& entries,
                                 const raft::MemoryStorage& storage) {
  for (const raftpb::Entry& e : entries) {
    if (e.index() < storage.FirstIndex()) continue;  // under the snapshot
    std::optional<uint64_t> prev = TermAt(storage, e.index() - 1);
    if (!prev) {
      Fail(absl::StrCat("node ", node, " has no term for index ", e.index() - 1,
                        " after persisting index ", e.index()));
      return;
    }
    auto [it, inserted] = log_.try_emplace(
        {e.index(), e.term()}, LogRecord{e.type(), e.data(), *prev, node});
    if (inserted) continue;
    const LogRecord& r = it->second;
    if (r.type != e.type() || r.data != e.data() || r.prev_term != *prev) {
      Fail(absl::StrCat("log matching: index=", e.index(), " term=", e.term(),
                        " on node ", node, " has data='", e.data(),
                        "' prev_term=", *prev, " but node ", r.first_node,
                        " persisted data='", r.data,
                        "' prev_term=", r.prev_term));
      return;
    }
  }
}

void Checker::OnHardStatePersisted(uint64_t node, const raftpb::HardState& hs,
                                   const raft::MemoryStorage& storage) {
  uint64_t& max_term = max_persisted_term_[node];
  if (hs.current_term() < max_term) {
    Fail(absl::StrCat("node ", node, " persisted term ", hs.current_term(),
                      " after term ", max_term));
    return;
  }
  max_term = hs.current_term();
  if (hs.voted_for() != 0) {
    auto [it, inserted] =
        vote_.try_emplace({node, hs.current_term()}, hs.voted_for());
    if (!inserted && it->second != hs.voted_for()) {
      Fail(absl::StrCat("node ", node, " voted for ", it->second, " and then ",
                        hs.voted_for(), " in term ", hs.current_term()));
      return;
    }
  }
  if (hs.commit_index() > storage.LastIndex()) {
    Fail(absl::StrCat(
        "node ", node, " persisted commit_index ", hs.commit_index(),
        " beyond its persisted log (last=", storage.LastIndex(), ")"));
  }
}

void Checker::OnSnapshotPersisted(uint64_t node,
                                  const raftpb::Snapshot& snapshot) {
  uint64_t index = snapshot.metadata().index();
  if (index == 0 || index > applied_.size()) return;
  const AppliedRecord& r = applied_[index - 1];
  if (r.term != snapshot.metadata().term()) {
    Fail(absl::StrCat("node ", node, " persisted a snapshot at index=", index,
                      " term=", snapshot.metadata().term(),
                      " but the entry applied there has term=", r.term));
  }
}

void Checker::OnMessageSent(const raftpb::Message& m) {
  if (m.type() != raftpb::MSG_REQUEST_VOTE_RESPONSE || m.reject()) return;
  auto [it, inserted] = vote_.try_emplace({m.from(), m.term()}, m.to());
  if (!inserted && it->second != m.to()) {
    Fail(absl::StrCat("node ", m.from(), " granted its term-", m.term(),
                      " vote to ", m.to(), " after voting for ", it->second));
  }
}

void Checker::OnApply(uint64_t node, const raftpb::Entry& e,
                      const raft::MemoryStorage& storage, size_t sm_size) {
  if (e.index() >= storage.FirstIndex()) {
    std::optional<uint64_t> stored = TermAt(storage, e.index());
    if (!stored || *stored != e.term()) {
      Fail(absl::StrCat("node ", node, " applies index=", e.index(),
                        " term=", e.term(),
                        " which is not durable in its log (stored term ",
                        stored ? absl::StrCat(*stored) : "none", ")"));
      return;
    }
  }
  if (e.index() > applied_.size() + 1) {
    Fail(absl::StrCat("node ", node, " applies index=", e.index(),
                      " but no node applied index ", applied_.size() + 1));
    return;
  }
  if (e.index() == applied_.size() + 1) {
    applied_.push_back(AppliedRecord{e.term(), e.type(), e.data(), node});
    trace_->Note(absl::StrCat("commit index=", e.index(), " term=", e.term(),
                              " data='", e.data(), "' (first applied by ", node,
                              ")"));
  } else {
    const AppliedRecord& r = applied_[e.index() - 1];
    if (r.term != e.term() || r.type != e.type() || r.data != e.data()) {
      Fail(absl::StrCat("state machine safety: node ", node,
                        " applies index=", e.index(), " term=", e.term(),
                        " data='", e.data(), "' but node ", r.node,
                        " applied term=", r.term, " data='", r.data, "'"));
      return;
    }
  }
  max_applied_commands_ = std::max(max_applied_commands_, sm_size);
}

void Checker::OnSnapshotApplied(uint64_t node, const raftpb::Snapshot& snapshot,
                                const StateMachine& sm) {
  uint64_t index = snapshot.metadata().index();
  if (index > applied_.size()) {
    Fail(absl::StrCat("node ", node, " installs a snapshot at index=", index,
                      " beyond anything applied anywhere (", applied_.size(),
                      ")"));
    return;
  }
  OnSnapshotPersisted(node, snapshot);
  size_t next = 0;  // position in sm.commands()
  for (uint64_t i = 1; i <= index && !failed(); ++i) {
    const AppliedRecord& r = applied_[i - 1];
    if (!IsCommand(r.type, r.data)) continue;
    if (next >= sm.commands().size() || sm.commands()[next].index != i ||
        sm.commands()[next].data != r.data) {
      Fail(absl::StrCat("state machine safety: node ", node,
                        "'s snapshot at index=", index,
                        " does not hold command '", r.data, "' at index ", i));
    }
    ++next;
  }
  if (!failed() && next != sm.size()) {
    Fail(absl::StrCat("state machine safety: node ", node, "'s snapshot holds ",
                      sm.size(), " commands, expected ", next));
  }
}

void Checker::OnLeader(uint64_t node, uint64_t term) {
  auto [it, inserted] = leader_of_term_.try_emplace(term, node);
  if (!inserted && it->second != node) {
    Fail(absl::StrCat("election safety: nodes ", it->second, " and ", node,
                      " are both leaders of term ", term));
  }
}

void Checker::CheckNode(uint64_t node, uint64_t incarnation,
                        const raft::Status& st,
                        const raft::MemoryStorage& storage) {
  const raftpb::HardState& hs = st.hard_state;
  uint64_t& last_term = status_term_[{node, incarnation}];
  if (hs.current_term() < last_term) {
    Fail(absl::StrCat("node ", node, " term went back from ", last_term, " to ",
                      hs.current_term()));
    return;
  }
  last_term = hs.current_term();
  if (hs.voted_for() != 0) {
    auto [it, inserted] =
        vote_.try_emplace({node, hs.current_term()}, hs.voted_for());
    if (!inserted && it->second != hs.voted_for()) {
      Fail(absl::StrCat("node ", node, " voted for ", it->second, " and then ",
                        hs.voted_for(), " in term ", hs.current_term()));
      return;
    }
  }
  if (!(st.applied <= hs.commit_index() &&
        hs.commit_index() <= st.last_index)) {
    Fail(absl::StrCat("node ", node,
                      " breaks applied <= commit <= last: ", st.applied, " / ",
                      hs.commit_index(), " / ", st.last_index));
    return;
  }
  const bool leads = st.soft_state.role == raft::Role::kLeader;
  std::pair<uint64_t, uint64_t>& led = led_[{node, incarnation}];
  if (hs.commit_index() < led.second) {
    Fail(absl::StrCat("node ", node, " commit index went back from ",
                      led.second, " to ", hs.commit_index()));
    return;
  }
  if (check_commit_rule_ && leads && led.first == hs.current_term() &&
      hs.commit_index() > led.second) {
    std::optional<uint64_t> t = TermAt(storage, hs.commit_index());
    if (t && *t != hs.current_term()) {
      Fail(absl::StrCat("commitment rule: node ", node, ", leader of term ",
                        hs.current_term(), ", moved its commit index from ",
                        led.second, " to ", hs.commit_index(),
                        ", an entry of term ", *t));
      return;
    }
  }
  led = {leads ? hs.current_term() : 0, hs.commit_index()};
  if (leads) {
    auto [it, inserted] = leader_of_term_.try_emplace(hs.current_term(), node);
    if (!inserted && it->second != node) {
      Fail(absl::StrCat("election safety: nodes ", it->second, " and ", node,
                        " are both leaders of term ", hs.current_term()));
      return;
    }
    if (completeness_checked_.insert(hs.current_term()).second) {
      trace_->Note(absl::StrCat("node ", node, " is leader of term ",
                                hs.current_term()));
      CheckLeaderCompleteness(node, hs.current_term(), storage);
    }
  }
}

void Checker::CheckLeaderCompleteness(uint64_t node, uint64_t term,
                                      const raft::MemoryStorage& storage) {
  if (applied_.empty()) return;
  uint64_t need = applied_.size();
  if (storage.LastIndex() < need) {
    Fail(absl::StrCat("leader completeness: node ", node, ", leader of term ",
                      term, ", has log up to ", storage.LastIndex(),
                      " but index ", need, " was applied (term ",
                      applied_[need - 1].term, ")"));
    return;
  }
  for (uint64_t i = storage.FirstIndex() - 1; i <= need; ++i) {
    if (i == 0) continue;
    std::optional<uint64_t> t = TermAt(storage, i);
    if (t && *t != applied_[i - 1].term) {
      Fail(absl::StrCat("leader completeness: node ", node, ", leader of term ",
                        term, ", has term ", *t, " at index ", i,
                        " where term ", applied_[i - 1].term, " data='",
                        applied_[i - 1].data, "' was applied"));
      return;
    }
  }
}

void Checker::OnReadIssued(const std::string& ctx, uint64_t node) {
  reads_[ctx] = PendingRead{node, trace_->step(), max_applied_commands_,
                            max_read_result_};
}

void Checker::OnReadCompleted(const std::string& ctx, uint64_t node,
                              size_t result) {
  auto it = reads_.find(ctx);
  if (it == reads_.end()) return;
  const PendingRead& r = it->second;
  trace_->Note(absl::StrCat("read ", ctx, " on node ", node, " returns ",
                            result, " commands (issued at step ", r.issued_step,
                            ", must see >= ", r.must_see, ")"));
  if (result < r.must_see) {
    Fail(absl::StrCat("linearizability: read ", ctx, " issued at step ",
                      r.issued_step, " on node ", node, " saw ", result,
                      " commands, but ", r.must_see,
                      " had been applied before it was issued"));
  } else if (result < r.monotone_floor) {
    Fail(absl::StrCat("linearizability: read ", ctx, " on node ", node, " saw ",
                      result, " commands, but an earlier read saw ",
                      r.monotone_floor));
  }
  max_read_result_ = std::max(max_read_result_, result);
  ++reads_completed_;
  reads_.erase(it);
}

void Checker::CheckLogsPairwise(
    const std::vector<std::pair<uint64_t, const raft::MemoryStorage*>>& logs) {
  for (size_t a = 0; a < logs.size(); ++a) {
    for (size_t b = a + 1; b < logs.size(); ++b) {
      const raft::MemoryStorage& x = *logs[a].second;
      const raft::MemoryStorage& y = *logs[b].second;
      uint64_t lo = std::max(x.FirstIndex(), y.FirstIndex());
      uint64_t hi = std::min(x.LastIndex(), y.LastIndex());
      // Find the highest index where both hold the same term; everything
      // from lo up to it must be identical.
      uint64_t match = 0;
      for (uint64_t i = hi; i >= lo && i > 0; --i) {
        if (TermAt(x, i) == TermAt(y, i)) {
          match = i;
          break;
        }
      }
      if (match < lo) continue;
      absl::StatusOr<std::vector<raftpb::Entry>> ex =
          x.Entries(lo, match + 1, raft::kNoLimit);
      absl::StatusOr<std::vector<raftpb::Entry>> ey =
          y.Entries(lo, match + 1, raft::kNoLimit);
      if (!ex.ok() || !ey.ok() || ex->size() != ey->size()) {
        Fail(absl::StrCat("cannot read logs of nodes ", logs[a].first, " and ",
                          logs[b].first, " over [", lo, ", ", match, "]"));
        return;
      }
      for (size_t i = 0; i < ex->size(); ++i) {
        const raftpb::Entry& p = (*ex)[i];
        const raftpb::Entry& q = (*ey)[i];
        if (p.term() != q.term() || p.type() != q.type() ||
            p.data() != q.data()) {
          Fail(absl::StrCat("log matching: nodes ", logs[a].first, " and ",
                            logs[b].first, " agree on term at index ", match,
                            " but differ at index ", p.index(), " (term ",
                            p.term(), " '", p.data(), "' vs term ", q.term(),
                            " '", q.data(), "')"));
          return;
        }
      }
    }
  }
}

}  // namespace raftkv::sim
