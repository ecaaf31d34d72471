// Simulation: one seeded, deterministic run of a simulated Raft cluster.
//
// RunSimulation(options) bootstraps a 3- or 5-node cluster and alternates
// fault periods (lossy, reordering, duplicating network; partitions; crashes,
// also inside a Ready; transfers; forced campaigns; membership changes) with
// stable periods (everything restarted and healed, network perfect). Every
// step the checker verifies the safety properties (checker.h); at the end of
// each stable period the liveness check requires a leader within 10
// election timeouts and a proposal applied on every member within 10 more.
//
// Same options, same run: the only randomness is one std::mt19937_64 seeded
// from options.seed (the Raft nodes get seeds derived from it).
#ifndef RAFTKV_TESTS_SIM_SIMULATION_H_
#define RAFTKV_TESTS_SIM_SIMULATION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "raft/raft.h"

namespace raftkv::sim {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 3;  // 3 or 5
  raft::TestingKnobs knobs;
  int fault_periods = 3;
  // Forces every fault period to one nemesis profile (0 mixed, 1 leader
  // churn, 2 leader kill, 3 partition churn, 4 leader isolation); -1 draws
  // one per period.
  int profile = -1;
  // See Checker::set_check_commit_rule.
  bool check_commit_rule = true;
  bool verbose = false;         // print every event as it happens
  size_t trace_capacity = 200;  // events kept for the failure report
};

struct SimResult {
  // The first safety or liveness violation, if any.
  std::optional<std::string> violation;
  // The last trace_capacity events (filled when there is a violation).
  std::string trace;
  // What the run did (for docs and sanity checks).
  uint64_t steps = 0;
  uint64_t proposals = 0;
  uint64_t commands_applied = 0;  // longest applied history
  uint64_t reads_completed = 0;
  uint64_t leaders = 0;  // distinct (term, leader) pairs
  uint64_t crashes = 0;
  uint64_t partitions = 0;
  uint64_t conf_changes = 0;
  uint64_t transfers = 0;
  std::string settings;  // the randomized Raft settings of this seed
};

SimResult RunSimulation(const SimOptions& options);

// A shell command that replays `options` with a full trace.
std::string ReplayCommand(const SimOptions& options);

}  // namespace raftkv::sim

#endif  // RAFTKV_TESTS_SIM_SIMULATION_H_
