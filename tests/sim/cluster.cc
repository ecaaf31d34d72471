// Cluster: the simulated driver loop (see cluster.h and raft/ready.h).
#include "tests/sim/cluster.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace raftkv::sim {

Cluster::Cluster(const NodeSettings& settings, std::mt19937_64* rng,
                 Network* network, Checker* checker, Trace* trace)
    : settings_(settings),
      rng_(rng),
      network_(network),
      checker_(checker),
      trace_(trace) {}

bool Cluster::Chance(double p) {
  if (p <= 0) return false;
  return std::uniform_real_distribution<double>(0, 1)(*rng_) < p;
}

raft::Config Cluster::MakeConfig(const Node& n) const {
  raft::Config c;
  c.id = n.id;
  c.election_tick = settings_.election_tick;
  c.heartbeat_tick = settings_.heartbeat_tick;
  c.storage = n.storage.get();
  c.applied = n.sm.applied();
  c.max_size_per_msg = settings_.max_size_per_msg;
  c.max_inflight_msgs = settings_.max_inflight_msgs;
  c.pre_vote = settings_.pre_vote;
  c.check_quorum = settings_.check_quorum;
  c.seed = settings_.seed * 1000003 + n.id * 7919 + n.incarnation;
  c.testing = settings_.knobs;
  return c;
}

void Cluster::Start(Node& n) {
  absl::StatusOr<std::unique_ptr<raft::Raft>> r =
      raft::Raft::Create(MakeConfig(n));
  if (!r.ok()) {
    checker_->Fail(absl::StrCat("node ", n.id, " cannot start (incarnation ",
                                n.incarnation, "): ", r.status().ToString()));
    return;
  }
  n.raft = *std::move(r);
}

void Cluster::Bootstrap(const std::vector<uint64_t>& voters) {
  trace_->Note(absl::StrCat("bootstrap voters=", absl::StrJoin(voters, ",")));
  for (uint64_t id : voters) {
    Node& n = nodes_[id];
    n.id = id;
    n.storage = std::make_unique<raft::MemoryStorage>();
    Start(n);
    if (!n.raft) return;
    absl::Status s = n.raft->Bootstrap(voters);
    if (!s.ok()) {
      checker_->Fail(
          absl::StrCat("node ", id, " cannot bootstrap: ", s.ToString()));
      return;
    }
  }
}

void Cluster::AddNode(uint64_t id) {
  trace_->Note(absl::StrCat("create node ", id, " (empty)"));
  Node& n = nodes_[id];
  n.id = id;
  n.storage = std::make_unique<raft::MemoryStorage>();
  Start(n);
}

void Cluster::Crash(uint64_t id) {
  Node& n = nodes_.at(id);
  if (!n.raft) return;
  trace_->Note(absl::StrCat("crash node ", id));
  n.raft.reset();
  n.issued_reads.clear();
  n.waiting.clear();
  n.snapshot_reports.clear();
  n.unreachable.clear();
}

void Cluster::Restart(uint64_t id) {
  Node& n = nodes_.at(id);
  if (n.raft || n.retired) return;
  ++n.incarnation;
  // The snapshot may have been persisted by a Ready whose apply step a crash
  // cut off; the durable state machine catches up from it first, as a server
  // restores its store from the latest snapshot on boot.
  absl::StatusOr<raftpb::Snapshot> snap = n.storage->GetSnapshot();
  if (snap.ok() && snap->metadata().index() > n.sm.applied()) {
    if (!n.sm.Restore(snap->metadata().index(), snap->data())) {
      checker_->Fail(absl::StrCat("node ", id, " has a malformed snapshot"));
      return;
    }
    checker_->OnSnapshotApplied(id, *snap, n.sm);
  }
  trace_->Note(absl::StrCat("restart node ", id, " incarnation=", n.incarnation,
                            " applied=", n.sm.applied(),
                            " term=", n.storage->hard_state().current_term(),
                            " commit=", n.storage->hard_state().commit_index(),
                            " last=", n.storage->LastIndex()));
  Start(n);
}

void Cluster::Retire(uint64_t id) {
  Node& n = nodes_.at(id);
  if (n.retired) return;
  trace_->Note(absl::StrCat("retire removed node ", id));
  Crash(id);
  n.retired = true;
}

void Cluster::Tick(uint64_t id) {
  Node& n = nodes_.at(id);
  if (n.up()) n.raft->Tick();
}

void Cluster::DeliverDue(uint64_t now) {
  std::vector<InFlight> blocked;
  std::vector<InFlight> due = network_->TakeDue(now, &blocked);
  for (const InFlight& f : blocked) ReportDropped(f);
  for (InFlight& f : due) {
    if (checker_->failed()) return;
    auto it = nodes_.find(f.msg.to());
    if (it == nodes_.end() || !it->second.up()) {
      trace_->Message(EventKind::kDrop, f.msg, "target down");
      ReportDropped(f);
      continue;
    }
    Node& target = it->second;
    trace_->Message(EventKind::kDeliver, f.msg);
    absl::Status s = target.raft->Step(f.msg);
    if (!s.ok()) {
      // Every message on the simulated network was sent by a correct
      // member (delayed, reordered or duplicated at worst): the core's door
      // (raft/message_check.h) must let all of them in.
      trace_->Note(absl::StrCat("step error: ", s.ToString()));
      checker_->Fail(absl::StrCat("a correct member's message was refused: ",
                                  s.ToString()));
      return;
    }
    if (f.msg.type() == raftpb::MSG_INSTALL_SNAPSHOT) {
      auto sender = nodes_.find(f.msg.from());
      if (sender != nodes_.end() && sender->second.up() &&
          sender->second.incarnation == f.sender_incarnation) {
        sender->second.raft->ReportSnapshot(f.msg.to(), true);
      }
    }
    if (target.up() && Chance(0.5) && target.raft->HasReady()) {
      HandleReady(target);
    }
  }
}

void Cluster::ReportDropped(const InFlight& f) {
  auto sender = nodes_.find(f.msg.from());
  if (sender == nodes_.end() || !sender->second.up() ||
      sender->second.incarnation != f.sender_incarnation) {
    return;
  }
  if (f.msg.type() == raftpb::MSG_INSTALL_SNAPSHOT) {
    sender->second.raft->ReportSnapshot(f.msg.to(), false);
  } else if (f.msg.type() == raftpb::MSG_APPEND_ENTRIES && Chance(0.5)) {
    sender->second.raft->ReportUnreachable(f.msg.to());
  }
}

void Cluster::DrainReadies() {
  for (int round = 0; round < 20; ++round) {
    bool any = false;
    for (auto& [id, n] : nodes_) {
      if (checker_->failed()) return;
      if (n.up() && n.raft->HasReady()) {
        any = true;
        HandleReady(n);
      }
    }
    if (!any) return;
  }
}

void Cluster::Send(Node& n, const raftpb::Message& m) {
  checker_->OnMessageSent(m);
  uint64_t before = network_->in_flight();
  network_->Send(m, now(), n.incarnation);
  if (network_->in_flight() == before) {  // lost at once
    if (m.type() == raftpb::MSG_INSTALL_SNAPSHOT) {
      n.snapshot_reports.push_back({m.to(), false});
    } else if (m.type() == raftpb::MSG_APPEND_ENTRIES && Chance(0.5)) {
      n.unreachable.push_back(m.to());
    }
  }
}

void Cluster::HandleReady(Node& n) {
  raft::Ready rd = n.raft->GetReady();
  if (rd.soft_state) {
    trace_->Note(absl::StrCat(
        "node ", n.id, " is ", raft::RoleName(rd.soft_state->role),
        " term=", n.raft->term(), " leader=", rd.soft_state->leader_id));
    if (rd.soft_state->role == raft::Role::kLeader) {
      checker_->OnLeader(n.id, n.raft->term());
    }
  }
  // Thesis 10.2.1: the leader's replication traffic leaves while it writes.
  std::vector<const raftpb::Message*> after_persist;
  for (const raftpb::Message& m : rd.messages) {
    if (raft::MaySendBeforePersist(m)) {
      Send(n, m);
    } else {
      after_persist.push_back(&m);
    }
  }
  if (Chance(crash_in_ready_)) {
    trace_->Note(absl::StrCat("node ", n.id, " crashes before persisting"));
    Crash(n.id);
    return;
  }
  // 1. Persist snapshot, entries, hard state.
  if (rd.snapshot.metadata().index() != 0) {
    absl::Status s = n.storage->ApplySnapshot(rd.snapshot);
    if (!s.ok()) {
      checker_->Fail(absl::StrCat("node ", n.id, " cannot persist snapshot ",
                                  rd.snapshot.metadata().index(), ": ",
                                  s.ToString()));
      return;
    }
    checker_->OnSnapshotPersisted(n.id, rd.snapshot);
  }
  if (!rd.entries.empty()) {
    checker_->BeforeAppend(n.id, rd.entries, *n.storage, n.sm.applied());
    if (checker_->failed()) return;
    n.storage->Append(rd.entries);
    checker_->OnEntriesPersisted(n.id, rd.entries, *n.storage);
  }
  if (rd.hard_state) {
    n.storage->SetHardState(*rd.hard_state);
    checker_->OnHardStatePersisted(n.id, *rd.hard_state, *n.storage);
  }
  if (checker_->failed()) return;
  if (Chance(crash_in_ready_)) {
    trace_->Note(absl::StrCat("node ", n.id, " crashes after persisting"));
    Crash(n.id);
    return;
  }
  // 2. Send the rest.
  for (const raftpb::Message* m : after_persist) Send(n, *m);
  // 3. Apply; 4. serve reads.
  Apply(n, rd);
  if (checker_->failed()) return;
  for (const raft::ReadState& rs : rd.read_states) {
    if (n.issued_reads.count(rs.request_ctx)) n.waiting.push_back(rs);
  }
  ServeReads(n);
  // 5. Advance.
  n.raft->Advance(rd);
  AfterAdvance(n);
}

void Cluster::Apply(Node& n, const raft::Ready& rd) {
  if (rd.snapshot.metadata().index() != 0) {
    uint64_t index = rd.snapshot.metadata().index();
    if (index < n.sm.applied()) {
      checker_->Fail(absl::StrCat("node ", n.id, " is told to apply snapshot ",
                                  index, " below its applied index ",
                                  n.sm.applied()));
      return;
    }
    if (!n.sm.Restore(index, rd.snapshot.data())) {
      checker_->Fail(
          absl::StrCat("node ", n.id, " got malformed snapshot ", index));
      return;
    }
    trace_->Note(absl::StrCat("node ", n.id, " installs snapshot index=", index,
                              " term=", rd.snapshot.metadata().term()));
    checker_->OnSnapshotApplied(n.id, rd.snapshot, n.sm);
  }
  for (const raftpb::Entry& e : rd.committed_entries) {
    if (e.index() != n.sm.applied() + 1) {
      checker_->Fail(absl::StrCat("node ", n.id, " is told to apply index ",
                                  e.index(), " after ", n.sm.applied()));
      return;
    }
    bool command = e.type() == raftpb::ENTRY_NORMAL && !e.data().empty();
    checker_->OnApply(n.id, e, *n.storage, n.sm.size() + (command ? 1 : 0));
    if (checker_->failed()) return;
    if (command) {
      n.sm.ApplyCommand(e.index(), e.data());
    } else {
      n.sm.AdvanceTo(e.index());
    }
  }
}

void Cluster::ServeReads(Node& n) {
  std::vector<raft::ReadState> still;
  for (raft::ReadState& rs : n.waiting) {
    if (rs.index <= n.sm.applied()) {
      n.issued_reads.erase(rs.request_ctx);
      checker_->OnReadCompleted(rs.request_ctx, n.id, n.sm.size());
    } else {
      still.push_back(std::move(rs));
    }
  }
  n.waiting = std::move(still);
}

void Cluster::AfterAdvance(Node& n) {
  for (auto [to, ok] : n.snapshot_reports) n.raft->ReportSnapshot(to, ok);
  n.snapshot_reports.clear();
  for (uint64_t to : n.unreachable) n.raft->ReportUnreachable(to);
  n.unreachable.clear();
  MaybeCompact(n);
}

void Cluster::MaybeCompact(Node& n) {
  uint64_t applied = n.sm.applied();
  if (!Chance(compact_) || applied < n.storage->FirstIndex()) return;
  raft::Status st = n.raft->GetStatus();
  // MemoryStorage::CreateSnapshot also compacts the log up to `applied`,
  // so a follower behind it must catch up from the snapshot.
  absl::Status s =
      n.storage->CreateSnapshot(applied, st.conf_state, n.sm.Serialize());
  if (!s.ok()) return;  // e.g. a newer snapshot is already installed
  trace_->Note(absl::StrCat("node ", n.id, " snapshots at ", applied,
                            " first_index=", n.storage->FirstIndex()));
}

void Cluster::CheckAll() {
  for (auto& [id, n] : nodes_) {
    if (checker_->failed()) return;
    if (!n.up()) continue;
    checker_->CheckNode(id, n.incarnation, n.raft->GetStatus(), *n.storage);
  }
}

void Cluster::CheckLogs() {
  std::vector<std::pair<uint64_t, const raft::MemoryStorage*>> logs;
  for (auto& [id, n] : nodes_) logs.push_back({id, n.storage.get()});
  checker_->CheckLogsPairwise(logs);
}

absl::Status Cluster::Propose(uint64_t id, std::string data) {
  Node& n = nodes_.at(id);
  absl::Status s = n.raft->Propose(data);
  trace_->Note(absl::StrCat("propose '", data, "' on node ", id, ": ",
                            s.ok() ? "ok" : s.ToString()));
  return s;
}

void Cluster::Read(uint64_t id, std::string ctx) {
  Node& n = nodes_.at(id);
  trace_->Note(absl::StrCat("read ", ctx, " on node ", id));
  checker_->OnReadIssued(ctx, id);
  n.issued_reads.insert(ctx);
  n.raft->ReadIndex(std::move(ctx));
}

Node* Cluster::node(uint64_t id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::vector<uint64_t> Cluster::UpIds() const {
  std::vector<uint64_t> ids;
  for (const auto& [id, n] : nodes_) {
    if (n.up()) ids.push_back(id);
  }
  return ids;
}

Node* Cluster::Leader() {
  Node* best = nullptr;
  for (auto& [id, n] : nodes_) {
    if (!n.up() || n.raft->role() != raft::Role::kLeader) continue;
    if (!best || n.raft->term() > best->raft->term()) best = &n;
  }
  return best;
}

std::vector<uint64_t> Cluster::Members(const raftpb::ConfState& cs) {
  std::set<uint64_t> ids;
  for (uint64_t id : cs.voters()) ids.insert(id);
  for (uint64_t id : cs.voters_outgoing()) ids.insert(id);
  for (uint64_t id : cs.learners()) ids.insert(id);
  for (uint64_t id : cs.learners_next()) ids.insert(id);
  return std::vector<uint64_t>(ids.begin(), ids.end());
}

}  // namespace raftkv::sim
