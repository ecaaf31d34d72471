// Nodes and the scripted network of a scenario (see cluster.h).
#include "tests/raft/cluster.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tests/raft/format.h"

namespace raftkv::raft::scenario {
namespace {

// A runaway stabilize (e.g. two nodes bouncing messages forever) fails
// instead of hanging the test.
constexpr int kMaxStabilizeRounds = 200;

bool Selected(const std::set<uint64_t>& set, uint64_t id) {
  return set.empty() || set.count(id) > 0;
}

}  // namespace

absl::Status Cluster::AddNode(uint64_t id, const NodeOptions& options,
                              const std::vector<uint64_t>& voters) {
  if (nodes_.count(id) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("node ", id, " exists"));
  }
  auto node = std::make_unique<Node>(id, options);
  absl::Status s = node->Start(voters);
  nodes_[id] = std::move(node);
  return s;
}

absl::StatusOr<Node*> Cluster::Get(uint64_t id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) {
    return absl::NotFoundError(absl::StrCat("no node ", id));
  }
  return it->second.get();
}

absl::StatusOr<Node*> Cluster::Live(uint64_t id) {
  absl::StatusOr<Node*> n = Get(id);
  if (n.ok() && !(*n)->up()) {
    return absl::FailedPreconditionError(absl::StrCat("node ", id, " is down"));
  }
  return n;
}

absl::StatusOr<std::vector<uint64_t>> Cluster::Select(
    const std::vector<uint64_t>& ids) const {
  if (ids.empty()) {
    std::vector<uint64_t> all;
    for (const auto& [id, node] : nodes_) all.push_back(id);
    return all;
  }
  for (uint64_t id : ids) {
    if (nodes_.count(id) == 0) {
      return absl::NotFoundError(absl::StrCat("no node ", id));
    }
  }
  return ids;
}

absl::Status Cluster::Crash(uint64_t id) {
  absl::StatusOr<Node*> n = Live(id);
  if (!n.ok()) return n.status();
  (*n)->Crash();
  checker_.OnCrash(id);
  return absl::OkStatus();
}

absl::Status Cluster::Restart(uint64_t id) {
  absl::StatusOr<Node*> n = Get(id);
  if (!n.ok()) return n.status();
  if ((*n)->up()) {
    return absl::FailedPreconditionError(absl::StrCat("node ", id, " is up"));
  }
  return (*n)->Restart();
}

std::string Cluster::ProcessReady(uint64_t id, const std::string& indent) {
  Node& node = *nodes_.at(id);
  if (!node.up() || !node.raft().HasReady()) return "";
  std::vector<raftpb::Message> outbox;
  std::string problem;
  Ready rd = node.HandleReady(&outbox, &problem);
  checker_.OnApply(id, node.raft().term(), rd.committed_entries);
  network_.insert(network_.end(), outbox.begin(), outbox.end());
  checker_.Check(nodes_);
  std::string out = FormatReady(rd, indent);
  if (!problem.empty()) absl::StrAppend(&out, indent, "ERROR ", problem, "\n");
  return out.empty() ? absl::StrCat(indent, "(empty)\n") : out;
}

std::string Cluster::DropReason(const raftpb::Message& m) const {
  auto it = nodes_.find(m.to());
  if (it == nodes_.end()) return "no such node";
  if (!it->second->up()) return "recipient down";
  if (groups_.empty() || m.from() == m.to()) return "";
  for (const std::set<uint64_t>& g : groups_) {
    if (g.count(m.from()) > 0 && g.count(m.to()) > 0) return "";
  }
  return "partitioned";
}

std::string Cluster::Deliver(const std::set<uint64_t>& to,
                             const std::set<uint64_t>& drop, bool verbose,
                             const std::string& indent) {
  std::deque<raftpb::Message> batch;
  std::deque<raftpb::Message> keep;
  for (raftpb::Message& m : network_) {
    if (Selected(to, m.to()) || drop.count(m.to()) > 0) {
      batch.push_back(std::move(m));
    } else {
      keep.push_back(std::move(m));
    }
  }
  network_ = std::move(keep);
  std::string out;
  for (const raftpb::Message& m : batch) {
    std::string reason =
        drop.count(m.to()) > 0 ? std::string("dropped") : DropReason(m);
    if (!reason.empty()) {
      absl::StrAppend(&out, indent, FormatMessage(m), " DROPPED (", reason,
                      ")\n");
      continue;
    }
    absl::Status s = nodes_.at(m.to())->raft().Step(m);
    if (verbose || !s.ok()) {
      absl::StrAppend(&out, indent, FormatMessage(m), "\n");
    }
    if (!s.ok())
      absl::StrAppend(&out, indent, "  step error: ", s.ToString(), "\n");
    checker_.Check(nodes_);
  }
  return out;
}

std::string Cluster::DropMessages(const std::set<uint64_t>& to) {
  std::deque<raftpb::Message> keep;
  std::string out;
  for (raftpb::Message& m : network_) {
    if (Selected(to, m.to())) {
      absl::StrAppend(&out, "dropped: ", FormatMessage(m), "\n");
    } else {
      keep.push_back(std::move(m));
    }
  }
  network_ = std::move(keep);
  return out;
}

bool Cluster::HasMessagesFor(const std::set<uint64_t>& to) const {
  for (const raftpb::Message& m : network_) {
    if (Selected(to, m.to())) return true;
  }
  return false;
}

void Cluster::Partition(std::vector<std::set<uint64_t>> groups) {
  groups_ = std::move(groups);
}

absl::StatusOr<std::string> Cluster::Stabilize(
    const std::vector<uint64_t>& ids) {
  const std::set<uint64_t> to(ids.begin(), ids.end());
  std::string out;
  for (int round = 0; round < kMaxStabilizeRounds; ++round) {
    bool moved = false;
    for (const auto& [id, node] : nodes_) {
      if (!Selected(to, id) || !node->up() || !node->raft().HasReady()) {
        continue;
      }
      absl::StrAppend(&out, "> ", id, " ready\n", ProcessReady(id, "  "));
      moved = true;
    }
    if (HasMessagesFor(to)) {
      moved = true;
      std::string drops = Deliver(to, {}, /*verbose=*/false, "  ");
      if (!drops.empty()) absl::StrAppend(&out, "> deliver\n", drops);
    }
    if (!moved) return out;
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "stabilize: still busy after ", kMaxStabilizeRounds, " rounds:\n", out));
}

std::vector<std::string> Cluster::CheckInvariants() {
  checker_.Check(nodes_);
  return checker_.TakeViolations();
}

}  // namespace raftkv::raft::scenario
