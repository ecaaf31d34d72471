#include "tests/fuzz/peer_cluster.h"

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"

namespace raftkv::fuzz {

using raftpb::Entry;
using raftpb::Message;

void Violation(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

namespace {

raft::Config MemberConfig(Member& m) {
  raft::Config c;
  c.id = m.id;
  c.storage = &m.storage;
  c.seed = m.id;
  c.max_inflight_msgs = 16;
  c.max_size_per_msg = 4096;
  return c;
}

}  // namespace

PeerCluster::PeerCluster(bool compact_leader) {
  for (uint64_t id : {kLeader, kFollower, kLagging}) {
    auto m = std::make_unique<Member>();
    m->id = id;
    absl::StatusOr<std::unique_ptr<raft::Raft>> r =
        raft::Raft::Create(MemberConfig(*m));
    if (!r.ok()) Violation(absl::StrCat("setup: ", r.status().ToString()));
    m->raft = std::move(*r);
    if (absl::Status s = m->raft->Bootstrap({kLeader, kFollower, kLagging});
        !s.ok()) {
      Violation(absl::StrCat("setup: ", s.ToString()));
    }
    members_[id] = std::move(m);
  }
  Member& leader = member(kLeader);
  leader.raft->Campaign();
  Stabilize();
  if (leader.raft->role() != raft::Role::kLeader) {
    Violation("setup: member 1 did not win its election");
  }
  for (const char* data : {"a", "b", "c"}) {
    if (!leader.raft->Propose(data).ok()) Violation("setup: propose failed");
    Stabilize();
  }
  for (const char* data : {"d", "e"}) {
    if (!leader.raft->Propose(data).ok()) Violation("setup: propose failed");
    Stabilize(/*isolated=*/kLagging);
  }
  if (compact_leader) {
    const raft::Status st = leader.raft->GetStatus();
    if (absl::Status s = leader.storage.CreateSnapshot(
            leader.applied, st.conf_state, "a,b,c,d,e");
        !s.ok()) {
      Violation(absl::StrCat("setup: ", s.ToString()));
    }
  }
  CheckAll();
}

void PeerCluster::Persist(Member& m, const raft::Ready& rd) {
  if (rd.snapshot.metadata().index() != 0) {
    if (absl::Status s = m.storage.ApplySnapshot(rd.snapshot); !s.ok()) {
      Violation(absl::StrCat("member ", m.id, ": Ready snapshot at index ",
                             rd.snapshot.metadata().index(),
                             " not storable: ", s.ToString()));
    }
  }
  if (!rd.entries.empty()) {
    const uint64_t first = rd.entries.front().index();
    if (first > m.storage.LastIndex() + 1 ||
        first <= m.storage.FirstIndex() - 1) {
      Violation(absl::StrCat("member ", m.id, ": Ready entries start at ",
                             first, ", stored log is (",
                             m.storage.FirstIndex() - 1, ", ",
                             m.storage.LastIndex(), "]"));
    }
    for (size_t i = 1; i < rd.entries.size(); ++i) {
      if (rd.entries[i].index() != first + i) {
        Violation(absl::StrCat("member ", m.id,
                               ": Ready entries not contiguous at ",
                               rd.entries[i].index()));
      }
    }
    m.storage.Append(rd.entries);
  }
  if (rd.hard_state) {
    if (rd.hard_state->commit_index() > m.storage.LastIndex()) {
      Violation(absl::StrCat("member ", m.id, ": Ready commit_index ",
                             rd.hard_state->commit_index(),
                             " beyond the persisted last index ",
                             m.storage.LastIndex()));
    }
    m.storage.SetHardState(*rd.hard_state);
  }
}

void PeerCluster::Apply(Member& m, const raft::Ready& rd) {
  if (rd.snapshot.metadata().index() != 0) {
    m.applied = rd.snapshot.metadata().index();
  }
  for (const Entry& e : rd.committed_entries) {
    if (e.index() != m.applied + 1) {
      Violation(absl::StrCat("member ", m.id, ": applies entry ", e.index(),
                             " after ", m.applied));
    }
    absl::StatusOr<uint64_t> term = m.storage.Term(e.index());
    if (!term.ok() || *term != e.term()) {
      Violation(absl::StrCat("member ", m.id, ": committed entry ", e.index(),
                             " term ", e.term(),
                             " is not durable (stored: ",
                             term.ok() ? absl::StrCat(*term)
                                       : term.status().ToString(),
                             ")"));
    }
    m.applied = e.index();
  }
}

void PeerCluster::Drain(Member& m, std::vector<Message>* outbox) {
  // Bounded: a core that always has a Ready is a bug too (a livelock).
  for (int i = 0; m.raft->HasReady(); ++i) {
    if (i == 1000) Violation(absl::StrCat("member ", m.id, ": endless Ready"));
    raft::Ready rd = m.raft->GetReady();
    Persist(m, rd);
    if (outbox != nullptr) {
      outbox->insert(outbox->end(), rd.messages.begin(), rd.messages.end());
    }
    Apply(m, rd);
    m.raft->Advance(rd);
    Check(m);
  }
}

void PeerCluster::Stabilize(uint64_t isolated, int max_messages) {
  int delivered = 0;
  while (true) {
    std::vector<Message> outbox;
    for (auto& [id, m] : members_) Drain(*m, &outbox);
    if (outbox.empty()) return;
    for (const Message& msg : outbox) {
      if (msg.to() == isolated || msg.from() == isolated) continue;
      auto it = members_.find(msg.to());
      if (it == members_.end()) continue;
      if (++delivered > max_messages) return;
      it->second->raft->Step(msg).IgnoreError();
      Check(*it->second);
    }
  }
}

void PeerCluster::Check(Member& m) {
  const raft::Status st = m.raft->GetStatus();
  const uint64_t term = st.hard_state.current_term();
  const uint64_t commit = st.hard_state.commit_index();
  if (term < m.max_term) {
    Violation(absl::StrCat("member ", m.id, ": term went from ", m.max_term,
                           " to ", term));
  }
  if (commit < m.max_commit) {
    Violation(absl::StrCat("member ", m.id, ": commit_index went from ",
                           m.max_commit, " to ", commit));
  }
  if (!(st.applied <= commit && commit <= st.last_index)) {
    Violation(absl::StrCat("member ", m.id, ": applied=", st.applied,
                           " commit_index=", commit,
                           " last_index=", st.last_index));
  }
  m.max_term = term;
  m.max_commit = commit;
}

void PeerCluster::CheckAll() {
  for (auto& [id, m] : members_) Check(*m);
}

}  // namespace raftkv::fuzz
