// Node: one scenario node — a Raft core, its MemoryStorage (the "disk") and a
// toy state machine — plus the driver code that obeys the Ready contract of
// raft/ready.h: persist, hand messages out, apply, Advance.
//
// Because HandleReady persists synchronously, the storage always holds
// exactly what a real node would have fsynced. Crash() therefore loses all
// in-memory Raft state (including anything not yet handed out in a Ready)
// and the state machine; Restart() rebuilds both from the storage.
//
// The state machine is the list of applied non-empty EntryNormal payloads;
// a snapshot's data is that list joined with ','.
#ifndef RAFTKV_TESTS_RAFT_NODE_H_
#define RAFTKV_TESTS_RAFT_NODE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/raft.h"
#include "raft/raftpb.pb.h"
#include "raft/storage.h"

namespace raftkv::raft::scenario {

struct NodeOptions {
  int election_tick = 10;
  int heartbeat_tick = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t seed = 0;  // 0: use the node id
  int max_inflight_msgs = 256;
  uint64_t max_size_per_msg = 1 << 20;
};

class Node {
 public:
  Node(uint64_t id, const NodeOptions& options);

  // Creates the core on the empty storage; bootstraps it when `voters` is
  // non-empty, else leaves it empty to be added by a membership change.
  absl::Status Start(const std::vector<uint64_t>& voters);

  // Drops the core and the state machine; the storage survives.
  void Crash();
  // REQUIRES: crashed. Recreates the core from the storage.
  absl::Status Restart();

  bool up() const { return raft_ != nullptr; }
  uint64_t id() const { return id_; }
  const NodeOptions& options() const { return options_; }
  // REQUIRES: up().
  Raft& raft() { return *raft_; }
  const Raft& raft() const { return *raft_; }
  const MemoryStorage& storage() const { return *storage_; }

  // Takes one Ready and handles it completely (ready.h steps 1-5). Messages
  // to send are appended to `outbox`. A Ready the driver cannot obey (a
  // snapshot older than the stored one) is described in `*problem`.
  // Returns the Ready for printing. REQUIRES: up() && raft().HasReady().
  Ready HandleReady(std::vector<raftpb::Message>* outbox, std::string* problem);

  // Takes a snapshot of the state machine at `index` in the storage.
  // REQUIRES: index is a point where some Ready's apply step ended (so the
  // membership at that index is known); fails otherwise.
  absl::Status Compact(uint64_t index);

  // The applied payloads, e.g. "applied=5 data=(a,b)".
  std::string DescribeStateMachine() const;

  // The persisted log, one line per entry (snapshot first, if any).
  std::string DescribeLog() const;

 private:
  raft::Config MakeConfig(uint64_t applied) const;
  void ApplySnapshot(const raftpb::Snapshot& snap);
  void Apply(const std::vector<raftpb::Entry>& committed);

  const uint64_t id_;
  const NodeOptions options_;
  std::unique_ptr<MemoryStorage> storage_;
  std::unique_ptr<Raft> raft_;  // null while crashed

  // The toy state machine. Invariant: applied_ is the index of the last
  // entry (or snapshot) applied; data_ maps applied index -> payload.
  uint64_t applied_ = 0;
  std::map<uint64_t, std::string> data_;
  // Membership right after each Ready's apply step, by applied index (what a
  // snapshot at that index must record).
  std::map<uint64_t, raftpb::ConfState> conf_at_;
};

}  // namespace raftkv::raft::scenario

#endif  // RAFTKV_TESTS_RAFT_NODE_H_
