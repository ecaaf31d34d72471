// Raft::Impl: the state and rules of one Raft node. Private to raft/; the
// rules are split by topic across raft_*.cc files:
//   raft.cc              construction, restart, terms and roles, Step dispatch
//   raft_election.cc     ticks, pre-vote, RequestVote, check-quorum
//   raft_replication.cc  AppendEntries, heartbeats, snapshots, commit
//   raft_read.cc         ReadIndex, leadership transfer
//   raft_membership.cc   membership changes
//   raft_ready.cc        Ready / Advance and status
#ifndef RAFTKV_RAFT_RAFT_IMPL_H_
#define RAFTKV_RAFT_RAFT_IMPL_H_

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "raft/confchange.h"
#include "raft/message_check.h"
#include "raft/raft.h"
#include "raft/raft_log.h"
#include "raft/read_only.h"
#include "raft/tracker.h"

namespace raftkv::raft {

// Context of a RequestVote sent on a leadership transfer: it must not be
// refused by voters that still hear from the current leader.
inline constexpr char kCampaignTransfer[] = "CampaignTransfer";

class Raft::Impl {
 public:
  explicit Impl(const Config& config);

  absl::Status Restore();  // loads persisted state from storage
  absl::Status Bootstrap(const std::vector<uint64_t>& voters);

  // --- Inputs (raft.cc and friends) ---
  void Tick();
  absl::Status Step(const raftpb::Message& m);
  absl::Status Propose(std::vector<raftpb::Entry> entries);
  absl::Status ProposeConfChange(const raftpb::ConfChange& cc);
  void ReadIndex(std::string ctx);
  void TransferLeadership(uint64_t transferee);
  void ReportUnreachable(uint64_t id);
  void ReportSnapshot(uint64_t id, bool ok);
  void Hup(bool transfer);

  // --- Outputs (raft_ready.cc) ---
  bool HasReady() const;
  Ready GetReady();
  void Advance(const Ready& ready);
  Status GetStatus() const;
  std::vector<std::pair<uint64_t, raftpb::ConfState>> TakeConfStates() {
    return std::exchange(conf_states_, {});
  }

  uint64_t id() const { return id_; }
  uint64_t lead() const { return lead_; }
  Role role() const { return role_; }
  uint64_t term() const { return term_; }

 private:
  // raft.cc: roles and terms.
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void ResetTerm(uint64_t term);
  ReceiverView View() const;
  // Counts and remembers a refused message; returns the Step error.
  absl::Status Refuse(Refusal kind, const raftpb::Message& m,
                      const std::string& detail);
  absl::Status StepByTerm(const raftpb::Message& m, bool* handled);
  void StepLeader(const raftpb::Message& m);
  void StepCandidate(const raftpb::Message& m);
  void StepFollower(const raftpb::Message& m);
  void Send(raftpb::Message m);
  bool Promotable() const;
  SoftState soft_state() const { return {lead_, role_}; }
  raftpb::HardState hard_state() const;

  // raft_election.cc
  void TickElection();
  void TickHeartbeat();
  void Campaign(bool pre_vote, bool transfer);
  void HandleVoteRequest(const raftpb::Message& m);
  void HandleVoteResponse(const raftpb::Message& m);
  void ResetRandomizedElectionTimeout();
  bool PastElectionTimeout() const {
    return election_elapsed_ >= randomized_election_timeout_;
  }

  // raft_replication.cc
  bool AppendEntry(std::vector<raftpb::Entry> entries);
  bool MaybeSendAppend(uint64_t to, bool send_if_empty);
  bool SendSnapshot(uint64_t to, Progress& pr);
  void SendHeartbeat(uint64_t to, const std::string& ctx);
  void BroadcastAppend();
  void BroadcastHeartbeat(const std::string& ctx);
  bool MaybeCommit();
  void HandleAppendEntries(const raftpb::Message& m);
  void HandleAppendResponse(const raftpb::Message& m, Progress& pr);
  void HandleHeartbeat(const raftpb::Message& m);
  void HandleHeartbeatResponse(const raftpb::Message& m, Progress& pr);
  void HandleSnapshot(const raftpb::Message& m);
  bool RestoreSnapshot(const raftpb::Snapshot& s);
  bool CommittedEntryInCurrentTerm() const;
  void OnCommitAdvanced();

  // raft_read.cc
  void HandleReadIndex(const raftpb::Message& m);
  void RespondToRead(const ReadRequest& req, uint64_t index);
  void ReleasePendingReads();
  void HandleTransferLeader(const raftpb::Message& m);
  void AbortLeaderTransfer() { lead_transferee_ = 0; }

  // raft_membership.cc
  void ApplyConfChangeEntry(const raftpb::Entry& e);
  void SwitchToConfig(ConfChangeResult result);
  bool HasUnappliedConfChange() const;
  void MaybeAutoLeave();

  const uint64_t id_;
  const int election_timeout_;
  const int heartbeat_timeout_;
  const Config config_;
  Storage* const storage_;

  // Persistent state (Figure 2), mirrored in storage through Ready.
  uint64_t term_ = 0;
  uint64_t vote_ = 0;
  RaftLog log_;

  // Volatile state.
  Role role_ = Role::kFollower;
  uint64_t lead_ = 0;
  ProgressTracker tracker_;
  int election_elapsed_ = 0;   // ticks since the last reset
  int heartbeat_elapsed_ = 0;  // leader only
  int randomized_election_timeout_ = 0;
  std::mt19937_64 rng_;
  uint64_t lead_transferee_ = 0;
  // Index of the latest conf change the leader appended; no new one until
  // it is applied.
  uint64_t pending_conf_index_ = 0;
  // Index of the last conf-change entry applied to tracker_ (Bootstrap
  // applies its entries before they are handed out).
  uint64_t conf_applied_index_ = 0;
  // (index, membership after it) per applied conf change; drained by
  // Raft::TakeConfStates.
  std::vector<std::pair<uint64_t, raftpb::ConfState>> conf_states_;
  ReadOnly read_only_;
  // Reads that arrived before the leader committed an entry of its term.
  std::vector<raftpb::Message> pending_reads_;

  // New entries await a BroadcastAppend (done once per Ready).
  bool broadcast_pending_ = false;

  // Messages refused by CheckMessage, by kind, and the latest of each kind
  // described (see Status::last_refused).
  RefusalCounts refused_{};
  std::array<std::string, kNumRefusalKinds> last_refused_;

  // Output queues, drained by GetReady.
  std::vector<raftpb::Message> msgs_;
  std::vector<ReadState> read_states_;
  SoftState prev_soft_state_;
  raftpb::HardState prev_hard_state_;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_RAFT_IMPL_H_
