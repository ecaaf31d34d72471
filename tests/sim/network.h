// Network: the simulated, adversarial message transport between Raft nodes.
//
// Time is a count of simulator steps. A sent message is delivered after a
// random delay of [min_delay, max_delay] steps, so messages are reordered
// whenever the range is wider than one step; it may also be dropped or
// duplicated (the duplicate gets its own delay). Partitions block directed
// links: a symmetric partition cuts both directions between two groups, an
// asymmetric one only from one group to the other, and a bridge partition
// cuts two halves apart while one bridge node still talks to both. A link is
// checked when the message would be delivered (a cable cut while a message
// is on it loses the message). Delivery to a crashed node is a drop; the
// caller decides that, since the network does not know who is up.
//
// All randomness comes from the simulator's one seeded generator.
#ifndef RAFTKV_TESTS_SIM_NETWORK_H_
#define RAFTKV_TESTS_SIM_NETWORK_H_

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft/raftpb.pb.h"
#include "tests/sim/trace.h"

namespace raftkv::sim {

// How badly the network behaves right now. The schedule swaps these between
// fault periods and stable periods.
struct NetworkFaults {
  double drop = 0;         // probability that a message is lost
  double duplicate = 0;    // probability that a message is delivered twice
  uint64_t min_delay = 1;  // steps; REQUIRES: 1 <= min_delay <= max_delay
  uint64_t max_delay = 1;

  static NetworkFaults Perfect() { return NetworkFaults{}; }
};

// A message in flight, tagged with the incarnation of its sender so that a
// snapshot's success or failure is reported only to the Raft that sent it.
struct InFlight {
  uint64_t deliver_at = 0;
  uint64_t seq = 0;  // ties in deliver_at are broken by send order
  uint64_t sender_incarnation = 0;
  raftpb::Message msg;
};

class Network {
 public:
  Network(std::mt19937_64* rng, Trace* trace) : rng_(rng), trace_(trace) {}

  void set_faults(const NetworkFaults& faults) { faults_ = faults; }
  const NetworkFaults& faults() const { return faults_; }

  // Queues `m` for delivery (or loses it), at step `now`.
  void Send(raftpb::Message m, uint64_t now, uint64_t sender_incarnation);

  // Removes and returns, in delivery order, the messages due at `now` whose
  // link is open. Messages due on a cut link are dropped and returned in
  // `*blocked` (so the caller can report unreachable peers and failed
  // snapshots).
  std::vector<InFlight> TakeDue(uint64_t now, std::vector<InFlight>* blocked);

  // Partitions. Each replaces the current one; Heal() removes it.
  // Cuts every link between `a` and `b`, both ways.
  void PartitionSymmetric(const std::vector<uint64_t>& a,
                          const std::vector<uint64_t>& b);
  // Cuts only the links from `a` to `b`.
  void PartitionOneWay(const std::vector<uint64_t>& a,
                       const std::vector<uint64_t>& b);
  // Cuts `a` from `b` both ways; `bridge` keeps every link.
  void PartitionBridge(const std::vector<uint64_t>& a,
                       const std::vector<uint64_t>& b, uint64_t bridge);
  void Heal();

  bool LinkOpen(uint64_t from, uint64_t to) const {
    return blocked_.count({from, to}) == 0;
  }
  bool partitioned() const { return !blocked_.empty(); }
  size_t in_flight() const { return queue_.size(); }

 private:
  uint64_t Delay();
  void Block(const std::vector<uint64_t>& from,
             const std::vector<uint64_t>& to);

  std::mt19937_64* rng_;  // not owned
  Trace* trace_;          // not owned
  NetworkFaults faults_;
  uint64_t next_seq_ = 0;
  // Keyed by (deliver_at, seq). A node-based map: messages are never moved
  // while queued (a binary heap of protobuf messages spent most of the
  // simulator's time swapping them).
  std::map<std::pair<uint64_t, uint64_t>, InFlight> queue_;
  std::set<std::pair<uint64_t, uint64_t>> blocked_;  // directed (from, to)
};

// "{1,2} | {3}"-style rendering for traces.
std::string GroupsToString(const std::vector<uint64_t>& a,
                           const std::vector<uint64_t>& b);

}  // namespace raftkv::sim

#endif  // RAFTKV_TESTS_SIM_NETWORK_H_
