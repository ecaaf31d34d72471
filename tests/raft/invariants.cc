// Raft safety invariants for scenarios (see invariants.h).
#include "tests/raft/invariants.h"

#include "absl/strings/str_cat.h"
#include "tests/raft/format.h"

namespace raftkv::raft::scenario {

void InvariantChecker::Violation(std::string what) {
  violations_.push_back(std::move(what));
}

std::vector<std::string> InvariantChecker::TakeViolations() {
  std::vector<std::string> out;
  out.swap(violations_);
  return out;
}

void InvariantChecker::OnCrash(uint64_t id) {
  live_term_.erase(id);
  live_commit_.erase(id);
}

void InvariantChecker::OnApply(uint64_t id, uint64_t term,
                               const std::vector<raftpb::Entry>& entries) {
  for (const raftpb::Entry& e : entries) {
    auto [t, fresh] = committed_by_term_.emplace(e.index(), term);
    if (!fresh) t->second = std::min(t->second, term);
    auto [it, inserted] = applied_.emplace(e.index(), e);
    if (inserted) continue;
    const raftpb::Entry& first = it->second;
    if (first.term() != e.term() || first.data() != e.data() ||
        first.type() != e.type()) {
      Violation(absl::StrCat("state machine safety: node ", id, " applied ",
                             FormatEntry(e), " but another node applied ",
                             FormatEntry(first)));
    }
  }
}

void InvariantChecker::Check(const Nodes& nodes) {
  for (const auto& [id, node] : nodes) CheckNode(*node);
}

void InvariantChecker::CheckNode(const Node& node) {
  const uint64_t id = node.id();
  // Persisted state, checked also while the node is down.
  const raftpb::HardState& hs = node.storage().hard_state();
  auto [disk, first_seen] = disk_.emplace(id, hs);
  const raftpb::HardState& prev = disk->second;
  if (!first_seen) {
    if (hs.current_term() < prev.current_term()) {
      Violation(absl::StrCat("node ", id, ": persisted term decreased ",
                             prev.current_term(), " -> ", hs.current_term()));
    }
    if (hs.current_term() == prev.current_term() && prev.voted_for() != 0 &&
        hs.voted_for() != prev.voted_for()) {
      Violation(absl::StrCat("node ", id, ": two votes in term ",
                             hs.current_term(), ": ", prev.voted_for(),
                             " then ", hs.voted_for()));
    }
    if (hs.commit_index() < prev.commit_index()) {
      Violation(absl::StrCat("node ", id, ": persisted commit decreased ",
                             prev.commit_index(), " -> ", hs.commit_index()));
    }
    disk->second = hs;
  }
  if (!node.up()) return;

  const Status st = node.raft().GetStatus();
  const uint64_t term = st.hard_state.current_term();
  const uint64_t commit = st.hard_state.commit_index();
  uint64_t& live_term = live_term_[id];
  if (term < live_term) {
    Violation(absl::StrCat("node ", id, ": term decreased ", live_term, " -> ",
                           term));
  }
  live_term = std::max(live_term, term);
  uint64_t& live_commit = live_commit_[id];
  if (commit < live_commit) {
    Violation(absl::StrCat("node ", id, ": commit decreased ", live_commit,
                           " -> ", commit));
  }
  live_commit = std::max(live_commit, commit);
  if (!(st.applied <= commit && commit <= st.last_index)) {
    Violation(absl::StrCat("node ", id, ": want applied <= commit <= last, ",
                           "got applied=", st.applied, " commit=", commit,
                           " last=", st.last_index));
  }
  if (st.soft_state.role == Role::kLeader) {
    auto [it, inserted] = leader_of_term_.emplace(term, id);
    if (!inserted && it->second != id) {
      Violation(absl::StrCat("two leaders in term ", term, ": ", it->second,
                             " and ", id));
    }
    CheckLeaderCompleteness(node);
  }
}

void InvariantChecker::CheckLeaderCompleteness(const Node& node) {
  const Status st = node.raft().GetStatus();
  const MemoryStorage& storage = node.storage();
  for (const auto& [index, entry] : applied_) {
    if (committed_by_term_[index] >= st.hard_state.current_term()) continue;
    if (index > st.last_index) {
      Violation(absl::StrCat("leader completeness: leader ", node.id(),
                             " (last=", st.last_index, ") lacks applied ",
                             FormatEntry(entry)));
      return;
    }
    // Entries the leader has not persisted yet, or compacted away, cannot be
    // read here; the persisted, uncompacted ones must match.
    if (index < storage.FirstIndex() || index > storage.LastIndex()) continue;
    absl::StatusOr<uint64_t> t = storage.Term(index);
    if (t.ok() && *t != entry.term()) {
      Violation(absl::StrCat("leader completeness: leader ", node.id(),
                             " has term ", *t, " at index ", index,
                             " but node applied ", FormatEntry(entry)));
    }
  }
}

}  // namespace raftkv::raft::scenario
