// Raft: the consensus core. A deterministic state machine with no threads,
// clocks, sockets, files or global randomness.
//
// The caller (a driver thread, a test, the simulator) feeds it inputs —
// Tick(), Step(), Propose(), ProposeConfChange(), ReadIndex(),
// TransferLeadership() — and drains its outputs with GetReady() / Advance()
// (see ready.h for the contract). Same inputs, same seed: same outputs.
//
// Features: elections with randomized timeouts, pre-vote, check-quorum;
// pipelined replication with per-follower probe/replicate/snapshot states and
// a bounded in-flight window; fast log backtracking; commit only by counting
// entries of the current term; batched ReadIndex; leadership transfer;
// snapshots; joint consensus and learners.
//
// Thread safety: none. One thread at a time, which is the point.
#ifndef RAFTKV_RAFT_RAFT_H_
#define RAFTKV_RAFT_RAFT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/raftpb.pb.h"
#include "raft/ready.h"
#include "raft/storage.h"

namespace raftkv::raft {

// Test-only switches, each breaking one rule of Raft. They exist so that the
// simulator can prove it catches the bug (a test of the tests). Never set
// outside tests.
struct TestingKnobs {
  // Commit by counting replicas of an entry from a previous term (Figure 8).
  bool unsafe_commit_previous_term = false;
  // Grant votes without the "candidate's log is up to date" check (5.4.1).
  bool unsafe_vote_without_log_check = false;
  // Answer ReadIndex from the local commit index without a heartbeat round.
  bool unsafe_read_index_without_heartbeat = false;
};

struct Config {
  uint64_t id = 0;  // this node; must be non-zero
  // A follower that hears no leader for a randomized [election_tick,
  // 2*election_tick) ticks campaigns. REQUIRES: election_tick > heartbeat_tick.
  int election_tick = 10;
  int heartbeat_tick = 1;
  Storage* storage = nullptr;  // not owned; must outlive the Raft
  // Index already applied by the state machine (after a restart). Committed
  // entries at or below it are not handed out again.
  uint64_t applied = 0;
  // Bytes of entries per AppendEntries. Also the largest batch (of more
  // than one entry) this member accepts: keep it equal on all members.
  uint64_t max_size_per_msg = 1 << 20;
  uint64_t max_committed_size_per_ready = 8 << 20;
  int max_inflight_msgs = 256;  // AppendEntries in flight per follower
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t seed = 1;  // seeds the randomized election timeout
  TestingKnobs testing;
};

// Per-follower replication state as the leader sees it (for status and
// tests).
struct ProgressStatus {
  uint64_t match_index = 0;
  uint64_t next_index = 0;
  std::string state;  // "probe", "replicate" or "snapshot"
  bool is_learner = false;
  bool recent_active = false;
};

struct Status {
  uint64_t id = 0;
  raftpb::HardState hard_state;
  SoftState soft_state;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  raftpb::ConfState conf_state;
  std::map<uint64_t, ProgressStatus> progress;  // only on the leader
  uint64_t lead_transferee = 0;
  // Messages Step refused since the core was created, by kind
  // (RefusalName in message_check.h); only kinds refused at least once.
  std::map<std::string, uint64_t> refused;
  // For each kind in `refused`: the latest refused message, e.g.
  // "from=9 term=2 type=MSG_APPEND_ENTRIES_RESPONSE index=1000000 last=5".
  std::map<std::string, std::string> last_refused;
};

class Raft {
 public:
  // Restores from config.storage (hard state, membership, log).
  static absl::StatusOr<std::unique_ptr<Raft>> Create(const Config& config);
  ~Raft();
  Raft(const Raft&) = delete;
  Raft& operator=(const Raft&) = delete;

  // Starts a brand-new cluster whose voters are `voters` (all nodes of the
  // initial cluster must bootstrap with the same list). Writes one
  // conf-change entry per voter at term 1 and marks them committed, so a
  // member that joins later learns the initial membership from the log.
  // REQUIRES: the storage is empty.
  absl::Status Bootstrap(const std::vector<uint64_t>& voters);

  // Advances logical time by one tick.
  void Tick();

  // Campaigns immediately (as if the election timeout fired).
  void Campaign();

  // Delivers a message from a peer. Messages from unknown or stale terms are
  // handled as Raft prescribes. One that no correct member sends (see
  // message_check.h) is dropped before any rule sees it, counted in
  // Status::refused, and answered with InvalidArgument naming its kind;
  // the core's state is unchanged. Any message may be passed: no input
  // stops the member.
  absl::Status Step(const raftpb::Message& m);

  // Proposes an application command. Fails with FailedPrecondition when no
  // leader is known or a leadership transfer is in progress; success means
  // only that the proposal was appended or forwarded, not that it commits.
  absl::Status Propose(std::string data);

  // Proposes a membership change. One change at a time: fails while an
  // earlier one is not yet applied, or when it would leave no voter.
  absl::Status ProposeConfChange(const raftpb::ConfChange& cc);

  // Requests a linearizable read. A ReadState with the same ctx appears in a
  // later Ready once leadership is confirmed (reads requested between two
  // Readys share one heartbeat round). Dropped silently if no leader is
  // known; the caller retries on timeout.
  void ReadIndex(std::string ctx);

  // Asks the leader to hand leadership to `transferee` (TimeoutNow once it
  // is caught up). On a follower, forwards the request to the leader.
  void TransferLeadership(uint64_t transferee);

  // The transport could not reach `id` / a snapshot to `id` finished.
  void ReportUnreachable(uint64_t id);
  void ReportSnapshot(uint64_t id, bool ok);

  bool HasReady() const;
  // Collects the pending work. REQUIRES: the previous Ready was Advanced.
  Ready GetReady();
  // Acknowledges that `ready` was handled as ready.h prescribes.
  void Advance(const Ready& ready);

  Status GetStatus() const;
  // The membership after each conf-change entry applied since the last
  // call, with the entry's index, oldest first. A driver that compacts the
  // log needs the membership at the compaction index, which can lie inside
  // a batch of committed entries.
  std::vector<std::pair<uint64_t, raftpb::ConfState>> TakeConfStates();
  uint64_t id() const;
  uint64_t leader_id() const;
  Role role() const;
  uint64_t term() const;

 private:
  class Impl;
  explicit Raft(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_RAFT_H_
