// Cluster: the nodes of a scenario and the network between them.
//
// The network is one FIFO of messages in flight, in send order. Nothing moves
// unless the script says so: process-ready puts a node's messages on the
// network, deliver-msgs steps them into their recipients. A message is
// dropped at delivery when its endpoints are on different sides of a
// partition, or the recipient is down or unknown; drops are printed.
//
// After every step the InvariantChecker looks at all nodes.
#ifndef RAFTKV_TESTS_RAFT_CLUSTER_H_
#define RAFTKV_TESTS_RAFT_CLUSTER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/raftpb.pb.h"
#include "tests/raft/invariants.h"
#include "tests/raft/node.h"

namespace raftkv::raft::scenario {

class Cluster {
 public:
  // Adds node `id`, bootstrapped with `voters` (or empty when none).
  absl::Status AddNode(uint64_t id, const NodeOptions& options,
                       const std::vector<uint64_t>& voters);
  absl::Status Crash(uint64_t id);
  absl::Status Restart(uint64_t id);

  // The node, if it exists (and, for Live, is up).
  absl::StatusOr<Node*> Get(uint64_t id);
  absl::StatusOr<Node*> Live(uint64_t id);
  // All node ids, or `ids` if non-empty (checked to exist).
  absl::StatusOr<std::vector<uint64_t>> Select(
      const std::vector<uint64_t>& ids) const;
  uint64_t MaxId() const { return nodes_.empty() ? 0 : nodes_.rbegin()->first; }
  const InvariantChecker::Nodes& nodes() const { return nodes_; }

  // Handles one Ready of node `id` (if it has one); returns it formatted
  // under `indent`, or "" when there was none.
  std::string ProcessReady(uint64_t id, const std::string& indent);

  // Delivers, in send order, the messages now in flight to any of `to`.
  // `drop` recipients lose theirs instead. With `verbose`, every message is
  // printed; otherwise only drops and Step errors.
  std::string Deliver(const std::set<uint64_t>& to,
                      const std::set<uint64_t>& drop, bool verbose,
                      const std::string& indent);
  // Drops in-flight messages to `to` (all when empty), printing them.
  std::string DropMessages(const std::set<uint64_t>& to);
  bool HasMessagesFor(const std::set<uint64_t>& to) const;

  // Only nodes in the same group can talk; a node in no group is isolated.
  void Partition(std::vector<std::set<uint64_t>> groups);
  void Heal() { groups_.clear(); }

  // Alternates Readys and deliveries for `ids` until nothing moves.
  absl::StatusOr<std::string> Stabilize(const std::vector<uint64_t>& ids);

  // Runs the invariant checker; returns and clears its violations.
  std::vector<std::string> CheckInvariants();

 private:
  // Why a message to its recipient cannot arrive now ("" if it can).
  std::string DropReason(const raftpb::Message& m) const;

  InvariantChecker::Nodes nodes_;
  InvariantChecker checker_;
  std::deque<raftpb::Message> network_;
  std::vector<std::set<uint64_t>> groups_;  // empty: fully connected
};

}  // namespace raftkv::raft::scenario

#endif  // RAFTKV_TESTS_RAFT_CLUSTER_H_
