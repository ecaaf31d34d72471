// Workload: client operations and the nemesis (see workload.h).
#include "tests/sim/workload.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace raftkv::sim {
namespace {

const char* TransitionName(raftpb::ConfChangeTransition t) {
  switch (t) {
    case raftpb::TRANSITION_AUTO:
      return "auto";
    case raftpb::TRANSITION_JOINT_IMPLICIT:
      return "joint-implicit";
    case raftpb::TRANSITION_JOINT_EXPLICIT:
      return "joint-explicit";
    default:
      return "?";
  }
}

}  // namespace

bool Workload::Chance(double p) {
  if (p <= 0) return false;
  return std::uniform_real_distribution<double>(0, 1)(*rng_) < p;
}

std::vector<uint64_t> Workload::AllIds() const {
  std::vector<uint64_t> ids;
  for (const auto& [id, n] : cluster_->nodes()) {
    if (!n.retired) ids.push_back(id);
  }
  return ids;
}

void Workload::Step(const ActionRates& r) {
  if (Chance(r.propose)) Propose();
  if (Chance(r.read)) Read();
  if (Chance(r.crash)) Crash(r.leader_bias);
  if (Chance(r.restart)) Restart();
  if (Chance(r.partition)) Partition();
  if (Chance(r.isolate_leader)) IsolateLeader();
  if (Chance(r.heal)) network_->Heal();
  if (Chance(r.transfer)) Transfer();
  if (Chance(r.campaign)) Campaign();
  if (Chance(r.conf_change)) ChangeMembership();
  if (Chance(r.conf_change * 5)) LeaveJointIfNeeded();
}

void Workload::Propose() {
  std::vector<uint64_t> up = cluster_->UpIds();
  if (up.empty()) return;
  uint64_t id = Pick(up);
  Node* leader = cluster_->Leader();
  if (leader && Chance(0.5)) id = leader->id;
  if (cluster_->Propose(id, absl::StrCat("p", NextProposalId())).ok()) {
    ++stats_.proposals;
  }
}

void Workload::Read() {
  std::vector<uint64_t> up = cluster_->UpIds();
  if (up.empty()) return;
  uint64_t id = Pick(up);
  // Half of the reads go to a node that believes it leads, preferring the
  // lowest term: a deposed leader that has not noticed yet is exactly where
  // a read that skips the heartbeat round returns stale data.
  if (Chance(0.5)) {
    uint64_t best_term = 0;
    for (uint64_t candidate : up) {
      const Node* n = cluster_->node(candidate);
      if (n->raft->role() != raft::Role::kLeader) continue;
      if (best_term == 0 || n->raft->term() < best_term) {
        best_term = n->raft->term();
        id = candidate;
      }
    }
  }
  cluster_->Read(id, absl::StrCat("r", next_read_++));
  ++stats_.reads;
}

void Workload::Crash(double leader_bias) {
  std::vector<uint64_t> up = cluster_->UpIds();
  size_t all = AllIds().size();
  // Keep a majority of nodes up most of the time; now and then go further.
  if (up.empty() || ((all - up.size()) * 2 + 2 > all && !Chance(0.2))) return;
  uint64_t id = Pick(up);
  Node* leader = cluster_->Leader();
  if (leader && Chance(leader_bias)) {
    id = leader->id;
  } else if (leader_bias >= 1) {
    return;  // only leaders are crashed
  }
  cluster_->Crash(id);
  ++stats_.crashes;
}

void Workload::Restart() {
  std::vector<uint64_t> down;
  for (const auto& [id, n] : cluster_->nodes()) {
    if (!n.up() && !n.retired) down.push_back(id);
  }
  if (down.empty()) return;
  cluster_->Restart(Pick(down));
  ++stats_.restarts;
}

void Workload::Partition() {
  std::vector<uint64_t> ids = AllIds();
  if (ids.size() < 2) return;
  std::shuffle(ids.begin(), ids.end(), *rng_);
  Node* leader = cluster_->Leader();
  if (leader && Chance(0.4)) {  // isolate the leader
    auto it = std::find(ids.begin(), ids.end(), leader->id);
    std::iter_swap(ids.begin(), it);
  }
  int kind = std::uniform_int_distribution<int>(0, 2)(*rng_);
  if (kind == 2 && ids.size() >= 3) {  // bridge: ids[0] sees both halves
    size_t cut =
        std::uniform_int_distribution<size_t>(2, ids.size() - 1)(*rng_);
    std::vector<uint64_t> a(ids.begin() + 1, ids.begin() + cut);
    std::vector<uint64_t> b(ids.begin() + cut, ids.end());
    network_->PartitionBridge(a, b, ids[0]);
  } else {
    size_t cut = Chance(0.5) ? 1
                             : std::uniform_int_distribution<size_t>(
                                   1, ids.size() - 1)(*rng_);
    std::vector<uint64_t> a(ids.begin(), ids.begin() + cut);
    std::vector<uint64_t> b(ids.begin() + cut, ids.end());
    if (kind == 1) {
      if (Chance(0.5)) std::swap(a, b);
      network_->PartitionOneWay(a, b);
    } else {
      network_->PartitionSymmetric(a, b);
    }
  }
  ++stats_.partitions;
}

void Workload::IsolateLeader() {
  Node* leader = cluster_->Leader();
  if (!leader) return;
  std::vector<uint64_t> rest = AllIds();
  rest.erase(std::remove(rest.begin(), rest.end(), leader->id), rest.end());
  network_->PartitionSymmetric({leader->id}, rest);
  ++stats_.partitions;
}

void Workload::Transfer() {
  Node* leader = cluster_->Leader();
  if (!leader) return;
  raft::Status st = leader->raft->GetStatus();
  std::vector<uint64_t> voters(st.conf_state.voters().begin(),
                               st.conf_state.voters().end());
  voters.erase(std::remove(voters.begin(), voters.end(), leader->id),
               voters.end());
  if (voters.empty()) return;
  uint64_t target = Pick(voters);
  Node* via = leader;
  Node* t = cluster_->node(target);
  if (t && t->up() && Chance(0.3)) via = t;  // a follower forwards it
  trace_->Note(absl::StrCat("transfer leadership ", leader->id, " -> ", target,
                            " via node ", via->id));
  via->raft->TransferLeadership(target);
  ++stats_.transfers;
}

void Workload::Campaign() {
  std::vector<uint64_t> up = cluster_->UpIds();
  if (up.empty()) return;
  uint64_t id = Pick(up);
  trace_->Note(absl::StrCat("node ", id, " campaigns (forced)"));
  cluster_->node(id)->raft->Campaign();
  ++stats_.campaigns;
}

void Workload::ProposeConfChange(Node* leader, const raftpb::ConfChange& cc,
                                 const std::string& what) {
  absl::Status s = leader->raft->ProposeConfChange(cc);
  trace_->Note(absl::StrCat("conf change on node ", leader->id, ": ", what,
                            " transition=", TransitionName(cc.transition()),
                            " -> ", s.ok() ? "ok" : s.ToString()));
  if (!s.ok()) return;
  ++stats_.conf_changes;
  for (const raftpb::ConfChangeSingle& c : cc.changes()) {
    if (c.type() == raftpb::CONF_REMOVE_NODE) {
      removal_proposed_.insert(c.node_id());
    }
  }
}

void Workload::ChangeMembership() {
  Node* leader = cluster_->Leader();
  if (!leader) return;
  raftpb::ConfState cs = leader->raft->GetStatus().conf_state;
  if (cs.voters_outgoing_size() > 0) return;  // joint: leave first
  std::vector<uint64_t> voters(cs.voters().begin(), cs.voters().end());
  std::vector<uint64_t> learners(cs.learners().begin(), cs.learners().end());
  auto single = [](raftpb::ConfChangeType type, uint64_t id) {
    raftpb::ConfChangeSingle c;
    c.set_type(type);
    c.set_node_id(id);
    return c;
  };
  auto new_node = [&]() {
    uint64_t id = next_node_id_++;
    cluster_->AddNode(id);
    return id;
  };
  raftpb::ConfChange cc;
  std::string what;
  bool can_grow = cluster_->nodes().size() < 12 && learners.size() < 2;
  switch (std::uniform_int_distribution<int>(0, 5)(*rng_)) {
    case 0:  // add a learner
      if (!can_grow) return;
      *cc.add_changes() = single(raftpb::CONF_ADD_LEARNER, new_node());
      what = "add learner";
      break;
    case 1:  // promote a learner
      if (learners.empty() || voters.size() >= 5) return;
      *cc.add_changes() = single(raftpb::CONF_ADD_VOTER, Pick(learners));
      what = "promote learner";
      break;
    case 2:  // remove a voter (possibly the leader) or a learner
      if (!learners.empty() && Chance(0.3)) {
        *cc.add_changes() = single(raftpb::CONF_REMOVE_NODE, Pick(learners));
        what = "remove learner";
      } else {
        if (voters.size() <= 3) return;
        *cc.add_changes() = single(raftpb::CONF_REMOVE_NODE, Pick(voters));
        what = "remove voter";
      }
      break;
    case 3:  // demote a voter to learner
      if (voters.size() <= 3) return;
      *cc.add_changes() = single(raftpb::CONF_ADD_LEARNER, Pick(voters));
      what = "demote voter";
      break;
    case 4: {  // joint: swap a voter for a learner (or a new voter)
      uint64_t in = !learners.empty() && Chance(0.7)
                        ? Pick(learners)
                        : (can_grow ? new_node() : 0);
      if (in == 0) return;
      *cc.add_changes() = single(raftpb::CONF_ADD_VOTER, in);
      *cc.add_changes() = single(
          Chance(0.5) ? raftpb::CONF_REMOVE_NODE : raftpb::CONF_ADD_LEARNER,
          Pick(voters));
      what = "joint swap";
      break;
    }
    case 5:  // add a brand-new voter directly
      if (!can_grow || voters.size() >= 5) return;
      *cc.add_changes() = single(raftpb::CONF_ADD_VOTER, new_node());
      what = "add voter";
      break;
  }
  int t = std::uniform_int_distribution<int>(0, 2)(*rng_);
  cc.set_transition(static_cast<raftpb::ConfChangeTransition>(t));
  std::vector<std::string> parts;
  for (const raftpb::ConfChangeSingle& c : cc.changes()) {
    parts.push_back(
        absl::StrCat(raftpb::ConfChangeType_Name(c.type()), " ", c.node_id()));
  }
  ProposeConfChange(leader, cc,
                    absl::StrCat(what, " [", absl::StrJoin(parts, ", "), "]"));
}

void Workload::LeaveJointIfNeeded() {
  Node* leader = cluster_->Leader();
  if (!leader) return;
  raftpb::ConfState cs = leader->raft->GetStatus().conf_state;
  if (cs.voters_outgoing_size() == 0 || cs.auto_leave()) return;
  ProposeConfChange(leader, raftpb::ConfChange(), "leave joint");
}

void Workload::RetireRemoved() {
  Node* leader = cluster_->Leader();
  if (!leader || removal_proposed_.empty()) return;
  std::vector<uint64_t> members =
      Cluster::Members(leader->raft->GetStatus().conf_state);
  for (auto it = removal_proposed_.begin(); it != removal_proposed_.end();) {
    if (std::find(members.begin(), members.end(), *it) == members.end()) {
      cluster_->Retire(*it);
      it = removal_proposed_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace raftkv::sim
