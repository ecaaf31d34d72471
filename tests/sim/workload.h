// Workload: the random actions a simulation takes on a cluster — client
// operations (proposals, ReadIndex reads) and the nemesis (crashes,
// restarts, partitions, heals, leadership transfers, forced campaigns,
// membership changes).
//
// Each action picks its target from the seeded generator and writes a line
// to the trace. Membership changes keep the cluster workable: at least 3
// voters, at most 5 voters plus 2 learners, node ids are never reused, and a
// node is created (empty) before the change that adds it is proposed.
#ifndef RAFTKV_TESTS_SIM_WORKLOAD_H_
#define RAFTKV_TESTS_SIM_WORKLOAD_H_

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/sim/cluster.h"
#include "tests/sim/network.h"
#include "tests/sim/trace.h"

namespace raftkv::sim {

// Per-step probabilities of each action.
struct ActionRates {
  double propose = 0.25;
  double read = 0.1;
  double crash = 0;
  double leader_bias = 0.5;  // probability that a crash targets the leader
  double restart = 0;
  double partition = 0;
  double isolate_leader = 0;  // cut the leader off from everyone
  double heal = 0;
  double transfer = 0;
  double campaign = 0;
  double conf_change = 0;
};

struct WorkloadStats {
  uint64_t proposals = 0;  // accepted by Propose()
  uint64_t reads = 0;      // issued
  uint64_t crashes = 0;
  uint64_t restarts = 0;
  uint64_t partitions = 0;
  uint64_t transfers = 0;
  uint64_t campaigns = 0;
  uint64_t conf_changes = 0;  // accepted by ProposeConfChange()
};

class Workload {
 public:
  Workload(std::mt19937_64* rng, Cluster* cluster, Network* network,
           Trace* trace, uint64_t next_node_id)
      : rng_(rng),
        cluster_(cluster),
        network_(network),
        trace_(trace),
        next_node_id_(next_node_id) {}

  // Takes each action with its probability in `rates`.
  void Step(const ActionRates& rates);

  void Propose();
  void Read();
  void Crash(double leader_bias);
  void Restart();
  void Partition();
  void IsolateLeader();
  void Transfer();
  void Campaign();
  void ChangeMembership();
  // Leaves a joint configuration that waits for an explicit leave.
  void LeaveJointIfNeeded();
  // Stops driving removed nodes (used when neither pre-vote nor
  // check-quorum protects the cluster from a removed node's elections).
  void RetireRemoved();

  const WorkloadStats& stats() const { return stats_; }
  uint64_t NextProposalId() { return next_proposal_++; }

 private:
  bool Chance(double p);
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(*rng_)];
  }
  void ProposeConfChange(Node* leader, const raftpb::ConfChange& cc,
                         const std::string& what);
  std::vector<uint64_t> AllIds() const;

  std::mt19937_64* rng_;  // not owned
  Cluster* cluster_;      // not owned
  Network* network_;      // not owned
  Trace* trace_;          // not owned
  uint64_t next_node_id_;
  uint64_t next_proposal_ = 1;
  uint64_t next_read_ = 1;
  std::set<uint64_t> removal_proposed_;
  WorkloadStats stats_;
};

}  // namespace raftkv::sim

#endif  // RAFTKV_TESTS_SIM_WORKLOAD_H_
