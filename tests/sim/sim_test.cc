// The randomized cluster simulator as a test: many seeds of 3- and 5-node
// clusters under faults must show no safety or liveness violation, and the
// simulator must catch each bug that raft::TestingKnobs can inject (a test of
// the tests). See docs/simulator.md.
//
// Environment:
//   SIM_SEEDS=N   seeds per cluster size in Sim.ThreeNodes / Sim.FiveNodes
//                 (default 1000 each)
//   SIM_FIRST_SEED=F  first seed of those sweeps (default 1)
//   SIM_HUNT_SEEDS=N  SimHunt.DetectionRate: how many of N seeds catch each
//                 injected bug
//   SIM_SEED=S    Sim.Replay runs seed S with every event printed
//   SIM_NODES=3|5 cluster size for Sim.Replay (default 3)
//   SIM_KNOB=commit_previous,vote,read   knobs for Sim.Replay
//   SIM_PROFILE=P  1 + the nemesis profile every fault period uses (see
//                 SimOptions::profile; 0 = drawn per period, the default)
//   SIM_NO_RULE=1  disable the direct commitment-rule check
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/sim/simulation.h"

namespace raftkv::sim {
namespace {

uint64_t EnvUint(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  uint64_t out = 0;
  if (v == nullptr || !absl::SimpleAtoi(v, &out)) return fallback;
  return out;
}

std::string Report(const SimOptions& o, const SimResult& r) {
  return "seed=" + std::to_string(o.seed) +
         " nodes=" + std::to_string(o.nodes) + " (" + r.settings +
         ")\nviolation: " + *r.violation + "\nreplay: " + ReplayCommand(o) +
         "\nlast events:\n" + r.trace;
}

// Runs seeds [first, first + count) and fails on the first violation.
void RunSeeds(int nodes, uint64_t first, uint64_t count) {
  auto start = std::chrono::steady_clock::now();
  uint64_t steps = 0, proposals = 0, applied = 0, reads = 0, leaders = 0,
           crashes = 0, partitions = 0, conf_changes = 0, transfers = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimOptions o;
    o.seed = seed;
    o.nodes = nodes;
    SimResult r = RunSimulation(o);
    if (r.violation) {
      ADD_FAILURE() << Report(o, r);
      return;
    }
    steps += r.steps;
    proposals += r.proposals;
    applied += r.commands_applied;
    reads += r.reads_completed;
    leaders += r.leaders;
    crashes += r.crashes;
    partitions += r.partitions;
    conf_changes += r.conf_changes;
    transfers += r.transfers;
  }
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf(
      "%d nodes: %llu seeds in %.1fs: steps=%llu proposals=%llu "
      "applied=%llu reads=%llu leaders=%llu crashes=%llu partitions=%llu "
      "conf_changes=%llu transfers=%llu\n",
      nodes, static_cast<unsigned long long>(count), secs,
      static_cast<unsigned long long>(steps),
      static_cast<unsigned long long>(proposals),
      static_cast<unsigned long long>(applied),
      static_cast<unsigned long long>(reads),
      static_cast<unsigned long long>(leaders),
      static_cast<unsigned long long>(crashes),
      static_cast<unsigned long long>(partitions),
      static_cast<unsigned long long>(conf_changes),
      static_cast<unsigned long long>(transfers));
}

TEST(Sim, ThreeNodes) {
  RunSeeds(3, EnvUint("SIM_FIRST_SEED", 1), EnvUint("SIM_SEEDS", 1000));
}

TEST(Sim, FiveNodes) {
  RunSeeds(5, EnvUint("SIM_FIRST_SEED", 1), EnvUint("SIM_SEEDS", 1000));
}

TEST(Sim, Deterministic) {
  SimOptions o;
  o.seed = 7;
  o.nodes = 5;
  SimResult a = RunSimulation(o);
  SimResult b = RunSimulation(o);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.proposals, b.proposals);
  EXPECT_EQ(a.commands_applied, b.commands_applied);
  EXPECT_EQ(a.reads_completed, b.reads_completed);
  EXPECT_EQ(a.leaders, b.leaders);
  EXPECT_GT(a.commands_applied, 0u);
  EXPECT_GT(a.reads_completed, 0u);
}

TEST(Sim, Replay) {
  const char* seed = std::getenv("SIM_SEED");
  if (seed == nullptr) GTEST_SKIP() << "set SIM_SEED to replay a seed";
  SimOptions o;
  o.seed = EnvUint("SIM_SEED", 1);
  o.nodes = static_cast<int>(EnvUint("SIM_NODES", 3));
  o.verbose = true;
  o.profile = static_cast<int>(EnvUint("SIM_PROFILE", 0)) - 1;
  o.check_commit_rule = EnvUint("SIM_NO_RULE", 0) == 0;
  if (const char* knobs = std::getenv("SIM_KNOB")) {
    for (absl::string_view k : absl::StrSplit(knobs, ',')) {
      if (k == "commit_previous") o.knobs.unsafe_commit_previous_term = true;
      if (k == "vote") o.knobs.unsafe_vote_without_log_check = true;
      if (k == "read") o.knobs.unsafe_read_index_without_heartbeat = true;
    }
  }
  SimResult r = RunSimulation(o);
  std::printf("seed=%llu %s steps=%llu applied=%llu leaders=%llu\n",
              static_cast<unsigned long long>(o.seed), r.settings.c_str(),
              static_cast<unsigned long long>(r.steps),
              static_cast<unsigned long long>(r.commands_applied),
              static_cast<unsigned long long>(r.leaders));
  EXPECT_FALSE(r.violation) << Report(o, r);
}

// --- The test of the tests: each injected bug must be caught. ---

// Seeds alternate between 5 and 3 nodes. Returns the options of the first
// seed that reports a violation, within `budget` seeds.
std::optional<SimOptions> FindViolation(const raft::TestingKnobs& knobs,
                                        uint64_t budget) {
  for (uint64_t seed = 1; seed <= budget; ++seed) {
    SimOptions o;
    o.seed = seed;
    o.nodes = seed % 2 == 1 ? 5 : 3;
    o.knobs = knobs;
    SimResult r = RunSimulation(o);
    if (r.violation) {
      std::printf("caught after %llu seeds: %s\n  %s\n",
                  static_cast<unsigned long long>(seed),
                  ReplayCommand(o).c_str(), r.violation->c_str());
      return o;
    }
  }
  return std::nullopt;
}

constexpr uint64_t kKnobBudget = 2000;

// Not a CI test: with SIM_HUNT_SEEDS=N, counts how many of N seeds catch
// each injected bug (the figures in docs/simulator.md).
TEST(SimHunt, DetectionRate) {
  uint64_t n = EnvUint("SIM_HUNT_SEEDS", 0);
  if (n == 0) GTEST_SKIP() << "set SIM_HUNT_SEEDS to measure detection rates";
  int only = static_cast<int>(EnvUint("SIM_HUNT_KNOB", 3));
  for (int knob = 0; knob < 3; ++knob) {
    if (only < 3 && knob != only) continue;
    uint64_t caught = 0, first = 0;
    std::map<std::string, int> by_check;  // first words of the violation
    for (uint64_t seed = 1; seed <= n; ++seed) {
      SimOptions o;
      o.seed = seed;
      o.nodes = seed % 2 == 1 ? 5 : 3;
      o.profile = static_cast<int>(EnvUint("SIM_PROFILE", 0)) - 1;
      o.check_commit_rule = EnvUint("SIM_NO_RULE", 0) == 0;
      o.knobs.unsafe_commit_previous_term = knob == 0;
      o.knobs.unsafe_vote_without_log_check = knob == 1;
      o.knobs.unsafe_read_index_without_heartbeat = knob == 2;
      SimResult r = RunSimulation(o);
      if (r.violation) {
        ++caught;
        if (first == 0) first = seed;
        ++by_check[r.violation->substr(0, r.violation->find(':'))];
      }
    }

    std::printf("knob %d: caught by %llu of %llu seeds (first: seed %llu)\n",
                knob, static_cast<unsigned long long>(caught),
                static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(first));
    for (const auto& [check, count] : by_check) {
      std::printf("  %s: %d\n", check.c_str(), count);
    }
  }
}

TEST(SimCatchesBug, CommitPreviousTerm) {
  raft::TestingKnobs k;
  k.unsafe_commit_previous_term = true;
  EXPECT_TRUE(FindViolation(k, kKnobBudget))
      << "Figure 8 bug not caught in " << kKnobBudget << " seeds";
}

TEST(SimCatchesBug, VoteWithoutLogCheck) {
  raft::TestingKnobs k;
  k.unsafe_vote_without_log_check = true;
  EXPECT_TRUE(FindViolation(k, kKnobBudget))
      << "vote bug not caught in " << kKnobBudget << " seeds";
}

TEST(SimCatchesBug, ReadIndexWithoutHeartbeat) {
  raft::TestingKnobs k;
  k.unsafe_read_index_without_heartbeat = true;
  EXPECT_TRUE(FindViolation(k, kKnobBudget))
      << "stale read bug not caught in " << kKnobBudget << " seeds";
}

}  // namespace
}  // namespace raftkv::sim
