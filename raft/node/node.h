// Node: the driver that runs a Raft core against real I/O. It owns two
// threads with one job each:
//
//   raft thread   ticks the core on a timer, steps received messages and
//                 proposals, and handles each Ready: persists to the WAL
//                 (one fdatasync per Ready), sends messages (a leader's
//                 replication traffic before its own fsync, thesis 10.2.1),
//                 queues committed entries for the apply thread, compacts
//                 the log; it never waits for the network or for apply.
//   apply thread  hands committed entries and snapshots to the Application
//                 in log order, and publishes the applied index.
//
// So persisting batch N+1 overlaps applying batch N.
//
// Thread safety: every public method may be called from any thread. Inputs
// reach the raft thread through `inbox_` (guarded by `mu_`); the apply
// thread's queue and applied index are guarded by `apply_mu_`. The core, the
// WAL and the Transport's send side are touched by the raft thread only.
#ifndef RAFTKV_RAFT_NODE_NODE_H_
#define RAFTKV_RAFT_NODE_NODE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "raft/raft.h"
#include "raft/transport.h"
#include "raft/wal/durable_log.h"

namespace raftkv::raft {

// The replicated state machine, as the Node sees it. Apply and
// InstallSnapshot run on the apply thread, in log order; the other methods
// may run on any thread.
class Application {
 public:
  virtual ~Application() = default;
  // Applies committed entries (data and membership entries alike).
  // An error is a storage failure: the node stops.
  virtual absl::Status Apply(const std::vector<raftpb::Entry>& entries) = 0;
  // Replaces the state with the copy staged by BeginSnapshot for this
  // snapshot (the copy may be newer than meta.index(); entries it already
  // contains are skipped by Apply).
  virtual absl::Status InstallSnapshot(
      const raftpb::SnapshotMetadata& meta) = 0;
  // Makes everything applied so far durable and returns its last index. Log
  // entries at or below it are no longer needed for recovery.
  virtual absl::StatusOr<uint64_t> SyncApplied() = 0;
  // A point-in-time copy of the state, to send to a follower.
  virtual absl::StatusOr<std::unique_ptr<SnapshotSource>> OpenSnapshot() = 0;
  // Stages an incoming copy (see MessageHandler::BeginSnapshot).
  virtual absl::StatusOr<std::unique_ptr<SnapshotSink>> BeginSnapshot(
      const raftpb::Message& m) = 0;
};

struct NodeOptions {
  uint64_t id = 0;
  // Voters of a brand-new cluster; used only when the log is empty.
  std::vector<uint64_t> initial_voters;
  absl::Duration tick_interval = absl::Milliseconds(100);  // heartbeat
  int election_tick = 10;
  int heartbeat_tick = 1;
  // Take a snapshot (and release log) after this many applied entries.
  uint64_t snapshot_count = 10000;
  // Entries kept below the snapshot point so that slightly slow followers
  // catch up from the log rather than a snapshot.
  uint64_t catchup_entries = 5000;
  // The Application's applied index at startup.
  uint64_t applied_index = 0;
  uint64_t seed = 1;
  TestingKnobs testing;
  // TEST ONLY: never fsync the WAL, so a crash loses acknowledged writes
  // (the jepsen harness must notice).
  bool unsafe_no_fsync = false;
  // TEST ONLY: call a proposal's callback with OK as soon as the core has
  // taken it (appended to the leader's log, or forwarded), before it commits
  // (the jepsen harness must notice).
  bool unsafe_ack_before_commit = false;
};

struct NodeStatus {
  uint64_t id = 0;
  uint64_t leader = 0;
  uint64_t term = 0;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  Role role = Role::kFollower;
  raftpb::ConfState conf_state;
  // On the leader: each member's match_index (including its own).
  std::map<uint64_t, uint64_t> match_index;
  // Peer messages the core refused, by kind (raft::Status::refused).
  std::map<std::string, uint64_t> refused;
};

class Node : public MessageHandler {
 public:
  using ErrorCallback = std::function<void(absl::Status)>;
  using ReadCallback = std::function<void(absl::StatusOr<uint64_t>)>;

  // Restores the core from `log` (bootstrapping a new cluster when it is
  // empty) and starts both threads. `transport` and `app` must outlive the
  // Node.
  static absl::StatusOr<std::unique_ptr<Node>> Start(
      const NodeOptions& options, std::unique_ptr<wal::DurableLog> log,
      Transport* transport, Application* app);
  ~Node() override;

  // Stops both threads; pending reads fail. Idempotent.
  void Stop();

  // Proposes data; on_error runs (on the raft thread) if the core refused
  // it. Success is observed through the Application applying it (or, with
  // the test-only unsafe_ack_before_commit, on_error gets OK once taken).
  void Propose(std::string data, ErrorCallback on_error);
  void ProposeConfChange(raftpb::ConfChange cc, ErrorCallback on_error);
  // Linearizable read barrier (batched ReadIndex). `done` gets the index the
  // caller must wait for (WaitApplied) before reading, or an error when
  // leadership changed or the read timed out.
  void ReadIndex(ReadCallback done);
  void TransferLeadership(uint64_t transferee);
  // Asks the core to campaign now (tests, and `move-leader` fallbacks).
  void Campaign();

  // Waits until the Application applied `index`. DeadlineExceeded on
  // timeout; Unavailable once the node stopped.
  absl::Status WaitApplied(uint64_t index, absl::Time deadline);
  uint64_t applied_index() const;
  NodeStatus status() const;
  // The leader and term alone (status() copies the membership too); cheap
  // enough for every response header.
  uint64_t leader() const;
  uint64_t term() const;
  // OK, or the storage error that stopped the node.
  absl::Status health() const;

  // MessageHandler (called by the transport's threads).
  void Receive(raftpb::Message m) override;
  void ReportUnreachable(uint64_t id) override;
  void ReportSnapshot(uint64_t id, bool ok) override;
  absl::StatusOr<std::unique_ptr<SnapshotSink>> BeginSnapshot(
      const raftpb::Message& m) override;

 private:
  // One input for the raft thread.
  struct Input {
    enum class Kind {
      kMessage,
      kPropose,
      kConfChange,
      kTransfer,
      kUnreachable,
      kSnapshotStatus,
      kCampaign
    };
    Kind kind = Kind::kMessage;
    raftpb::Message message;
    std::string data;
    raftpb::ConfChange cc;
    uint64_t id = 0;
    bool ok = false;
    ErrorCallback on_error;
  };
  struct ApplyTask {
    raftpb::Snapshot snapshot;  // index 0: none
    std::vector<raftpb::Entry> entries;
  };
  struct PendingReadBatch {
    std::vector<ReadCallback> callbacks;
    int age_ticks = 0;
  };

  Node(const NodeOptions& options, std::unique_ptr<wal::DurableLog> log,
       Transport* transport, Application* app);

  void RunRaft();
  void RunApply();
  void HandleInputs(std::vector<Input> inputs);
  void HandleReady();
  absl::Status Persist(const Ready& rd);
  void SendMessages(std::vector<raftpb::Message>* msgs, bool before_persist);
  void StartReadBatch();
  void CompleteReads(const std::vector<ReadState>& states);
  void FailReads(const absl::Status& status);
  void AgeReads();
  void MaybeCompactLog();
  raftpb::ConfState ConfStateAt(uint64_t index) const;
  void Fail(absl::Status status);
  void PublishStatus();
  // Logs the kinds of peer messages refused since the last log of each,
  // at most once a second per kind (the core counts; it has no clock).
  void LogRefusals(absl::Time now);

  const NodeOptions options_;
  Transport* const transport_;
  Application* const app_;

  // Raft-thread state.
  std::unique_ptr<wal::DurableLog> log_;
  std::unique_ptr<Raft> raft_;
  uint64_t next_read_ctx_ = 1;
  std::map<uint64_t, PendingReadBatch> reads_in_flight_;
  uint64_t last_leader_ = 0;
  // Membership after each applied conf change: (index, conf state).
  std::vector<std::pair<uint64_t, raftpb::ConfState>> conf_history_;
  uint64_t log_snapshot_index_ = 0;
  // Per refusal kind: the count when it was last logged, and when.
  std::map<std::string, std::pair<uint64_t, absl::Time>> refusals_logged_;

  mutable absl::Mutex mu_;
  std::vector<Input> inbox_ ABSL_GUARDED_BY(mu_);
  std::vector<ReadCallback> reads_waiting_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  NodeStatus status_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex apply_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::deque<ApplyTask> apply_queue_ ABSL_GUARDED_BY(apply_mu_);
  uint64_t applied_ ABSL_GUARDED_BY(apply_mu_) = 0;
  bool apply_stopping_ ABSL_GUARDED_BY(apply_mu_) = false;

  std::thread raft_thread_;
  std::thread apply_thread_;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_NODE_NODE_H_
