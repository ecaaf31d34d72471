// PeerCluster: the deterministic three-member Raft cluster that the peer
// fuzz target (fuzz_peer_batch.cc) steps hostile messages into, and the
// driver that handles its Readys as raft/ready.h prescribes while checking
// the core's invariants through its public API.
//
// The cluster, built the same way for every input (no clock, seeded cores):
//   members 1, 2, 3 bootstrap with voters {1,2,3}; 1 campaigns and leads in
//   term 2; entries "a" "b" "c" commit everywhere; then 3 is cut off and "d"
//   "e" commit on 1 and 2 only, so 3 is a lagging follower. Optionally the
//   leader compacts its log into a snapshot at its applied index, so that
//   catching 3 up takes an InstallSnapshot.
//
// Checked after every Ready and every step (a violation prints what broke
// and aborts, which libFuzzer reports as a crash):
//  - current_term and commit_index never decrease;
//  - applied <= commit_index <= last index;
//  - Ready contract: a snapshot to persist is newer than the stored one;
//    persisted entries are contiguous and attach to the stored log; the
//    persisted commit index points into the persisted log; committed
//    entries are applied in order without gaps, and each is already durable
//    (same index and term in the storage).
#ifndef RAFTKV_TESTS_FUZZ_PEER_CLUSTER_H_
#define RAFTKV_TESTS_FUZZ_PEER_CLUSTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "raft/raft.h"
#include "raft/raftpb.pb.h"
#include "raft/storage.h"

namespace raftkv::fuzz {

// Prints `what` and aborts: a broken invariant of the core under test.
[[noreturn]] void Violation(const std::string& what);

struct Member {
  uint64_t id = 0;
  raft::MemoryStorage storage;
  std::unique_ptr<raft::Raft> raft;
  // What the checks remember (never decreasing).
  uint64_t max_term = 0;
  uint64_t max_commit = 0;
  // Index of the last entry (or snapshot) this driver applied.
  uint64_t applied = 0;
};

class PeerCluster {
 public:
  static constexpr uint64_t kLeader = 1;
  static constexpr uint64_t kFollower = 2;
  static constexpr uint64_t kLagging = 3;

  // Builds the cluster described at the top of this file.
  explicit PeerCluster(bool compact_leader);

  Member& member(uint64_t id) { return *members_.at(id); }

  // Handles Readys of `m` until it has none: persists into its storage,
  // applies, Advances, and appends its messages to `outbox` (nullptr: the
  // messages are dropped). Checks the Ready contract and invariants.
  void Drain(Member& m, std::vector<raftpb::Message>* outbox);

  // Drains every member and delivers their messages among 1, 2 and 3 until
  // none is left or `max_messages` were delivered; messages to or from
  // `isolated` are dropped, as are messages to unknown ids.
  void Stabilize(uint64_t isolated = 0, int max_messages = 10000);

  // Checks the invariants of `m` through Raft::GetStatus().
  void Check(Member& m);
  void CheckAll();

 private:
  void Persist(Member& m, const raft::Ready& rd);
  void Apply(Member& m, const raft::Ready& rd);

  std::map<uint64_t, std::unique_ptr<Member>> members_;
};

}  // namespace raftkv::fuzz

#endif  // RAFTKV_TESTS_FUZZ_PEER_CLUSTER_H_
