// Simulation: the schedule of fault and stable periods, the step loop and
// the liveness check (see simulation.h).
//
// One step = deliver the messages due, tick the nodes whose clock phase
// says so (a tick every kStepsPerTick steps, nodes out of phase), take the
// workload's random actions, handle every pending Ready, check invariants.
#include "tests/sim/simulation.h"

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/sim/checker.h"
#include "tests/sim/cluster.h"
#include "tests/sim/network.h"
#include "tests/sim/trace.h"
#include "tests/sim/workload.h"

namespace raftkv::sim {
namespace {

constexpr uint64_t kStepsPerTick = 4;
// Liveness bound, in election timeouts, for electing a leader and then for
// applying a proposal on every member. Without pre-vote the bound is looser:
// a candidate whose log is too stale to win still bumps every follower's
// term, and a follower resets its election timer on a term change even when
// it rejects the vote (as etcd's raft does), so up-to-date nodes can be kept
// from campaigning for several rounds in a row (seed 266, 5 nodes, before
// this distinction: 8 rounds won by stale candidates).
constexpr uint64_t kLivenessTimeouts = 10;
constexpr uint64_t kLivenessTimeoutsWithoutPreVote = 30;

template <typename T>
T PickOne(std::mt19937_64& rng, std::initializer_list<T> options) {
  std::vector<T> v(options);
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

class Simulation {
 public:
  explicit Simulation(const SimOptions& options)
      : options_(options),
        rng_(options.seed),
        trace_(options.trace_capacity, options.verbose),
        checker_(&trace_),
        network_(&rng_, &trace_) {
    checker_.set_check_commit_rule(options.check_commit_rule);
  }

  SimResult Run();

 private:
  void Step(const ActionRates& rates);
  void FaultPeriod();
  void StablePeriod();
  void CheckLiveness();
  bool AppliedEverywhere(const std::string& data);
  uint64_t Ticks(uint64_t ticks) const { return ticks * kStepsPerTick; }

  SimOptions options_;
  std::mt19937_64 rng_;
  Trace trace_;
  Checker checker_;
  Network network_;
  NodeSettings settings_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Workload> workload_;
  double nemesis_scale_ = 1;
  uint64_t step_ = 0;
  uint64_t next_live_ = 1;
};

SimResult Simulation::Run() {
  // Per-seed Raft settings: mostly production-like, sometimes extreme (one
  // entry per message and one message in flight stretch replication over
  // many rounds, which is what the Figure 8 scenario needs).
  settings_.seed = options_.seed;
  settings_.knobs = options_.knobs;
  settings_.pre_vote = std::bernoulli_distribution(0.85)(rng_);
  settings_.check_quorum = std::bernoulli_distribution(0.85)(rng_);
  settings_.max_size_per_msg = PickOne<uint64_t>(rng_, {1, 256, 1 << 20});
  settings_.max_inflight_msgs = PickOne<int>(rng_, {1, 4, 256});
  nemesis_scale_ = PickOne<double>(rng_, {0.5, 1, 2.5});
  std::string settings =
      absl::StrCat("nodes=", options_.nodes, " pre_vote=", settings_.pre_vote,
                   " check_quorum=", settings_.check_quorum,
                   " max_size_per_msg=", settings_.max_size_per_msg,
                   " max_inflight=", settings_.max_inflight_msgs,
                   " nemesis_scale=", nemesis_scale_);
  trace_.Note(absl::StrCat("seed=", options_.seed, " ", settings));

  cluster_ = std::make_unique<Cluster>(settings_, &rng_, &network_, &checker_,
                                       &trace_);
  std::vector<uint64_t> voters;
  for (int i = 1; i <= options_.nodes; ++i) voters.push_back(i);
  workload_ = std::make_unique<Workload>(&rng_, cluster_.get(), &network_,
                                         &trace_, options_.nodes + 1);
  cluster_->Bootstrap(voters);
  network_.set_faults(NetworkFaults::Perfect());
  cluster_->set_compact(0.02);

  StablePeriod();
  for (int p = 0; p < options_.fault_periods && !checker_.failed(); ++p) {
    FaultPeriod();
    if (!checker_.failed()) StablePeriod();
  }
  if (!checker_.failed()) cluster_->CheckLogs();

  SimResult r;
  r.violation = checker_.violation();
  if (r.violation) r.trace = trace_.Dump();
  r.steps = step_;
  r.proposals = workload_->stats().proposals;
  r.commands_applied = checker_.max_applied_commands();
  r.reads_completed = checker_.reads_completed();
  r.leaders = checker_.leaders_seen();
  r.crashes = workload_->stats().crashes;
  r.partitions = workload_->stats().partitions;
  r.conf_changes = workload_->stats().conf_changes;
  r.transfers = workload_->stats().transfers;
  r.settings = settings;
  return r;
}

void Simulation::Step(const ActionRates& rates) {
  ++step_;
  trace_.set_step(step_);
  cluster_->DeliverDue(step_);
  if (checker_.failed()) return;
  for (const auto& [id, n] : cluster_->nodes()) {
    if ((step_ + id * 3) % kStepsPerTick == 0) cluster_->Tick(id);
  }
  workload_->Step(rates);
  if (!settings_.pre_vote && !settings_.check_quorum) {
    workload_->RetireRemoved();
  }
  cluster_->DrainReadies();
  if (checker_.failed()) return;
  cluster_->CheckAll();
}

void Simulation::FaultPeriod() {
  // Each fault period draws one of three nemesis profiles: a mix of
  // everything; leader churn (the leader crashes or is forced out every few
  // ticks, leaving entries replicated to a minority: the Figure 8
  // pattern); and partition churn (partitions and heals in quick
  // succession, which deposes leaders without telling them).
  enum Profile {
    kMixed,
    kLeaderChurn,
    kLeaderKill,
    kPartitionChurn,
    kLeaderIsolation
  };
  Profile profile =
      PickOne<Profile>(rng_, {kMixed, kMixed, kLeaderChurn, kLeaderKill,
                              kPartitionChurn, kLeaderIsolation});
  if (options_.profile >= 0) profile = static_cast<Profile>(options_.profile);
  NetworkFaults f;
  f.drop = PickOne<double>(rng_, {0, 0.01, 0.05, 0.2});
  f.duplicate = PickOne<double>(rng_, {0, 0.02, 0.1});
  f.min_delay = 1;
  f.max_delay = PickOne<uint64_t>(rng_, {2, 8, 24, 60});
  double crash_in_ready = PickOne<double>(rng_, {0, 0.002, 0.01});
  ActionRates r;
  double s = nemesis_scale_;
  r.crash = 0.004 * s;
  r.restart = 0.012 * s;
  r.partition = 0.004 * s;
  r.heal = 0.003 * s;
  r.transfer = 0.008 * s;
  r.campaign = 0.002 * s;
  r.conf_change = 0.008 * s;
  const char* name = "mixed";
  if (profile == kLeaderChurn) {
    name = "leader-churn";
    f.drop = PickOne<double>(rng_, {0, 0.01});
    f.max_delay = PickOne<uint64_t>(rng_, {2, 8});
    crash_in_ready = PickOne<double>(rng_, {0.005, 0.02});
    r.crash = 0.015 * s;
    r.leader_bias = 0.8;
    r.restart = 0.05;
    r.campaign = 0.01 * s;
    r.transfer = 0.005 * s;
    r.partition = 0.001 * s;
    r.heal = 0.01;
  } else if (profile == kLeaderKill) {
    // Every leader dies within a few ticks of its election, often in the
    // middle of a Ready, while its replication traffic is still in flight.
    name = "leader-kill";
    f.drop = PickOne<double>(rng_, {0.05, 0.15, 0.3});
    f.max_delay = PickOne<uint64_t>(rng_, {4, 8, 16});
    crash_in_ready = 0.02;
    r.crash = 0.1;
    r.leader_bias = 1;
    r.restart = 0.1;
    r.campaign = 0.01;
    r.partition = 0;
    r.conf_change = 0;
  } else if (profile == kLeaderIsolation) {
    // Leaders are cut off every few ticks, at random points of their
    // replication: what they appended but did not replicate stays on them,
    // and what they committed may not have reached a majority with an entry
    // of their own term.
    name = "leader-isolation";
    f.drop = PickOne<double>(rng_, {0, 0.05});
    f.max_delay = PickOne<uint64_t>(rng_, {2, 8});
    crash_in_ready = 0.01;
    r.isolate_leader = 0.03;
    r.heal = 0.03;
    r.partition = 0;
    r.crash = 0.003;
    r.restart = 0.02;
    r.campaign = 0.005;
  } else if (profile == kPartitionChurn) {
    name = "partition-churn";
    r.partition = 0.02 * s;
    r.heal = 0.015;
    r.crash = 0.002 * s;
    r.campaign = 0.005 * s;
  }
  network_.set_faults(f);
  cluster_->set_crash_in_ready(crash_in_ready);
  cluster_->set_compact(PickOne<double>(rng_, {0.005, 0.05}));
  uint64_t ticks = std::uniform_int_distribution<uint64_t>(80, 200)(rng_);
  trace_.Note(absl::StrCat("fault period (", name, "): ticks=", ticks,
                           " drop=", f.drop, " dup=", f.duplicate, " delay=[1,",
                           f.max_delay, "] crash_in_ready=", crash_in_ready));
  uint64_t end = step_ + Ticks(ticks);
  while (step_ < end && !checker_.failed()) Step(r);
}

void Simulation::StablePeriod() {
  trace_.Note("stable period: heal, restart all, perfect network");
  network_.Heal();
  network_.set_faults(NetworkFaults{0, 0, 1, 2});
  cluster_->set_crash_in_ready(0);
  for (const auto& [id, n] : cluster_->nodes()) {
    if (!n.up() && !n.retired) cluster_->Restart(id);
  }
  CheckLiveness();
  // A calm tail: operators transfer leadership and change membership on a
  // healthy cluster too, and both must work without faults around them.
  ActionRates r;
  r.transfer = 0.01;
  r.conf_change = 0.01;
  uint64_t end = step_ + Ticks(30);
  while (step_ < end && !checker_.failed()) Step(r);
}

bool Simulation::AppliedEverywhere(const std::string& data) {
  Node* leader = cluster_->Leader();
  if (!leader) return false;
  for (uint64_t id : Cluster::Members(leader->raft->GetStatus().conf_state)) {
    Node* n = cluster_->node(id);
    if (!n || n->retired) continue;
    if (!n->up()) return false;
    const std::vector<AppliedCommand>& c = n->sm.commands();
    if (std::none_of(c.rbegin(), c.rend(),
                     [&](const AppliedCommand& a) { return a.data == data; })) {
      return false;
    }
  }
  return true;
}

void Simulation::CheckLiveness() {
  // No new proposals while liveness is measured: the bound is for the
  // cluster to recover, not for it to drain an open-ended stream.
  ActionRates quiet;
  quiet.propose = 0;
  quiet.read = 0.05;
  const uint64_t timeouts =
      settings_.pre_vote ? kLivenessTimeouts : kLivenessTimeoutsWithoutPreVote;
  const uint64_t bound = Ticks(timeouts * settings_.election_tick);
  uint64_t deadline = step_ + bound;
  while (!checker_.failed() && !cluster_->Leader()) {
    if (step_ >= deadline) {
      checker_.Fail(absl::StrCat("liveness: no leader within ", timeouts,
                                 " election timeouts after healing"));
      return;
    }
    Step(quiet);
  }
  if (checker_.failed()) return;
  // A member that missed many entries catches up at one AppendEntries round
  // (at most a tick on the healed network) per max_size_per_msg worth of
  // entries when the in-flight window is 1: allow two ticks per missing
  // entry on top of the bound.
  uint64_t backlog = 0;
  Node* leader = cluster_->Leader();
  uint64_t last = leader->raft->GetStatus().last_index;
  for (uint64_t id : Cluster::Members(leader->raft->GetStatus().conf_state)) {
    Node* n = cluster_->node(id);
    if (n && n->up())
      backlog = std::max(backlog, last - std::min(last, n->sm.applied()));
  }
  std::string data = absl::StrCat("live", next_live_++);
  deadline = step_ + bound + Ticks(2 * backlog);
  uint64_t next_propose = step_;
  while (!checker_.failed() && !AppliedEverywhere(data)) {
    if (step_ >= deadline) {
      checker_.Fail(absl::StrCat("liveness: '", data,
                                 "' not applied on every member within ",
                                 timeouts, " election timeouts of a leader"));
      return;
    }
    leader = cluster_->Leader();
    if (leader && step_ >= next_propose) {
      (void)cluster_->Propose(leader->id, data);
      next_propose = step_ + Ticks(2 * settings_.election_tick);
    }
    Step(quiet);
  }
}

}  // namespace

SimResult RunSimulation(const SimOptions& options) {
  return Simulation(options).Run();
}

std::string ReplayCommand(const SimOptions& o) {
  std::vector<std::string> knobs;
  if (o.knobs.unsafe_commit_previous_term) knobs.push_back("commit_previous");
  if (o.knobs.unsafe_vote_without_log_check) knobs.push_back("vote");
  if (o.knobs.unsafe_read_index_without_heartbeat) knobs.push_back("read");
  std::string cmd = absl::StrCat("SIM_SEED=", o.seed, " SIM_NODES=", o.nodes);
  if (!knobs.empty()) {
    absl::StrAppend(&cmd, " SIM_KNOB=", absl::StrJoin(knobs, ","));
  }
  if (o.profile >= 0) absl::StrAppend(&cmd, " SIM_PROFILE=", o.profile + 1);
  if (!o.check_commit_rule) absl::StrAppend(&cmd, " SIM_NO_RULE=1");
  absl::StrAppend(&cmd, " ./sim_test --gtest_filter='Sim.Replay'");
  return cmd;
}

}  // namespace raftkv::sim
