// Cluster: simulated Raft nodes and the driver loop that obeys ready.h.
//
// A node is a raft::Raft, the raft::MemoryStorage holding exactly what it has
// persisted, and a StateMachine. A crash destroys the Raft object, so all
// state the core held but the driver had not yet persisted is lost; a
// restart calls Raft::Create on the same storage with Config::applied set to
// the durable state machine's applied index.
//
// The driver handles one Ready as the contract prescribes: messages for which
// MaySendBeforePersist() holds go to the network first (the leader's parallel
// write of thesis 10.2.1), then the snapshot, entries and hard state are
// persisted, the other messages are sent, the snapshot and committed entries
// are applied, read states are served once applied, and Advance() is called.
// During fault periods a crash may strike inside this sequence — before the
// persist (after the early sends) or after it (before anything else).
#ifndef RAFTKV_TESTS_SIM_CLUSTER_H_
#define RAFTKV_TESTS_SIM_CLUSTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "raft/raft.h"
#include "raft/storage.h"
#include "tests/sim/checker.h"
#include "tests/sim/network.h"
#include "tests/sim/state_machine.h"
#include "tests/sim/trace.h"

namespace raftkv::sim {

// Raft settings shared by every node of one simulated cluster.
struct NodeSettings {
  int election_tick = 10;
  int heartbeat_tick = 1;
  uint64_t max_size_per_msg = 1 << 20;
  int max_inflight_msgs = 256;
  bool pre_vote = true;
  bool check_quorum = true;
  raft::TestingKnobs knobs;
  uint64_t seed = 1;  // mixed with node id and incarnation
};

struct Node {
  uint64_t id = 0;
  std::unique_ptr<raft::MemoryStorage> storage;  // survives crashes
  std::unique_ptr<raft::Raft> raft;              // null while crashed
  StateMachine sm;                               // durable, see state_machine.h
  uint64_t incarnation = 0;                      // bumped by every restart
  // Removed from the membership and no longer driven (only when neither
  // pre-vote nor check-quorum protects the cluster from it).
  bool retired = false;
  std::set<std::string> issued_reads;    // ctx of reads issued here
  std::vector<raft::ReadState> waiting;  // answered, waiting for apply
  // Deferred transport feedback, given to the core after Advance().
  std::vector<std::pair<uint64_t, bool>> snapshot_reports;  // (to, ok)
  std::vector<uint64_t> unreachable;

  bool up() const { return raft != nullptr && !retired; }
};

class Cluster {
 public:
  Cluster(const NodeSettings& settings, std::mt19937_64* rng, Network* network,
          Checker* checker, Trace* trace);

  // Creates nodes `voters` and bootstraps each with the same voter list.
  void Bootstrap(const std::vector<uint64_t>& voters);
  // Creates and starts a node with empty storage (to be added by a
  // membership change; it learns the log from the leader).
  void AddNode(uint64_t id);

  void Crash(uint64_t id);
  void Restart(uint64_t id);
  void Retire(uint64_t id);

  // Probability of a crash inside a Ready (at each of the two crash points).
  void set_crash_in_ready(double p) { crash_in_ready_ = p; }
  // Probability of taking a snapshot and compacting the log after a Ready.
  void set_compact(double p) { compact_ = p; }

  void Tick(uint64_t id);
  // Delivers the messages due at `now`; after each delivery the target
  // handles its Ready right away with probability 1/2 (else it batches).
  void DeliverDue(uint64_t now);
  // Handles Readys until no live node has one.
  void DrainReadies();
  // Per-step invariant checks of every live node.
  void CheckAll();
  // Pairwise log comparison over every node's persisted log.
  void CheckLogs();

  // Client operations on node `id`. REQUIRES: the node is up.
  absl::Status Propose(uint64_t id, std::string data);
  void Read(uint64_t id, std::string ctx);

  Node* node(uint64_t id);
  const std::map<uint64_t, Node>& nodes() const { return nodes_; }
  std::vector<uint64_t> UpIds() const;
  // The live node that believes it leads the highest term, or nullptr.
  Node* Leader();
  // Members (voters, outgoing voters, learners) in `cs`.
  static std::vector<uint64_t> Members(const raftpb::ConfState& cs);

  uint64_t now() const { return trace_->step(); }

 private:
  raft::Config MakeConfig(const Node& n) const;
  void Start(Node& n);
  void HandleReady(Node& n);
  void Send(Node& n, const raftpb::Message& m);
  void Apply(Node& n, const raft::Ready& rd);
  void ServeReads(Node& n);
  void AfterAdvance(Node& n);
  void MaybeCompact(Node& n);
  void ReportDropped(const InFlight& f);
  bool Chance(double p);

  NodeSettings settings_;
  std::mt19937_64* rng_;  // not owned
  Network* network_;      // not owned
  Checker* checker_;      // not owned
  Trace* trace_;          // not owned
  double crash_in_ready_ = 0;
  double compact_ = 0;
  std::map<uint64_t, Node> nodes_;
};

}  // namespace raftkv::sim

#endif  // RAFTKV_TESTS_SIM_CLUSTER_H_
