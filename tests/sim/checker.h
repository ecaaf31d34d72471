// Checker: the safety properties of Raft, checked as a simulation runs.
//
// The driver (cluster.cc) reports what it persists, sends and applies; the
// simulation asks for a per-node check after every step. The first broken
// property is recorded as the run's violation (later ones are ignored: they
// tend to be consequences). The properties:
//
//  - election safety: at most one leader per term, over every (term, leader)
//    ever observed;
//  - terms never decrease (persisted terms across restarts, in-memory terms
//    within one incarnation) and a node grants at most one vote per term
//    (persisted voted_for never changes within a term; no two granting
//    VoteResps from one node in one term name different candidates);
//  - applied <= commit <= last index on every node, the commit index never
//    decreases within an incarnation, and the persisted commit never
//    exceeds the persisted log;
//  - log matching: entries with the same (index, term) anywhere carry the
//    same data and follow the same previous term, which by induction makes
//    every two logs identical up to such an entry (checked incrementally on
//    every persist, and pairwise over whole logs by CheckLogsPairwise());
//  - no applied entry is ever truncated from a log; committed entries are
//    durable before they are applied;
//  - leader completeness: a node observed as leader of a term holds every
//    entry applied anywhere before that observation;
//  - state-machine safety: every node applies the same entry at each index
//    (also through snapshots);
//  - linearizable ReadIndex: a read issued when the longest applied history
//    anywhere had H commands returns at least H, and reads are monotone in
//    real time.
#ifndef RAFTKV_TESTS_SIM_CHECKER_H_
#define RAFTKV_TESTS_SIM_CHECKER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft/raft.h"
#include "raft/storage.h"
#include "tests/sim/state_machine.h"
#include "tests/sim/trace.h"

namespace raftkv::sim {

class Checker {
 public:
  explicit Checker(Trace* trace) : trace_(trace) {}

  // Also check Raft's commitment rule directly (paper 5.4.2): while a node
  // stays leader of one term, its commit index only moves onto entries of
  // that term. Off, only the consequences of a broken rule are caught.
  void set_check_commit_rule(bool on) { check_commit_rule_ = on; }

  // Records a violation (the first one wins) and notes it in the trace.
  void Fail(std::string what);
  bool failed() const { return violation_.has_value(); }
  const std::optional<std::string>& violation() const { return violation_; }

  // --- Persistence (called by the driver around its storage writes) ---
  // Before entries overwrite a suffix of `storage`: none of the replaced
  // entries may be applied already (`applied` is the node's applied index).
  void BeforeAppend(uint64_t node, const std::vector<raftpb::Entry>& entries,
                    const raft::MemoryStorage& storage, uint64_t applied);
  // After `entries` were appended to `storage`.
  void OnEntriesPersisted(uint64_t node,
                          const std::vector<raftpb::Entry>& entries,
                          const raft::MemoryStorage& storage);
  void OnHardStatePersisted(uint64_t node, const raftpb::HardState& hs,
                            const raft::MemoryStorage& storage);
  void OnSnapshotPersisted(uint64_t node, const raftpb::Snapshot& snapshot);

  // --- Messages ---
  void OnMessageSent(const raftpb::Message& m);

  // --- Application ---
  // `e` was applied on `node`, whose persisted log is `storage`.
  void OnApply(uint64_t node, const raftpb::Entry& e,
               const raft::MemoryStorage& storage, size_t sm_size);
  // `node` replaced its state machine with a snapshot.
  void OnSnapshotApplied(uint64_t node, const raftpb::Snapshot& snapshot,
                         const StateMachine& sm);

  // --- Roles ---
  // `node` reported (through a Ready's soft state) that it leads `term`;
  // catches leaders that are deposed again before the end of the step.
  void OnLeader(uint64_t node, uint64_t term);

  // --- Per-step checks of one live node ---
  void CheckNode(uint64_t node, uint64_t incarnation, const raft::Status& st,
                 const raft::MemoryStorage& storage);

  // --- Linearizable reads ---
  void OnReadIssued(const std::string& ctx, uint64_t node);
  // The read completed on `node` with `result` commands applied. Ignores
  // unknown or already completed contexts (a duplicated ReadIndexResp).
  void OnReadCompleted(const std::string& ctx, uint64_t node, size_t result);

  // Full pairwise comparison of persisted logs (slow; run now and then).
  void CheckLogsPairwise(
      const std::vector<std::pair<uint64_t, const raft::MemoryStorage*>>& logs);

  // The longest applied history anywhere (number of commands).
  size_t max_applied_commands() const { return max_applied_commands_; }
  uint64_t max_applied_index() const { return applied_.size(); }
  // (term, leader) pairs observed; for statistics.
  size_t leaders_seen() const { return leader_of_term_.size(); }
  uint64_t reads_completed() const { return reads_completed_; }

 private:
  struct LogRecord {
    int type = 0;
    std::string data;
    uint64_t prev_term = 0;
    uint64_t first_node = 0;  // who persisted it first (for messages)
  };
  struct AppliedRecord {
    uint64_t term = 0;
    int type = 0;
    std::string data;
    uint64_t node = 0;
  };
  struct PendingRead {
    uint64_t node = 0;
    uint64_t issued_step = 0;
    size_t must_see = 0;        // commands applied anywhere at issue time
    size_t monotone_floor = 0;  // max result of reads completed before
  };

  void CheckLeaderCompleteness(uint64_t node, uint64_t term,
                               const raft::MemoryStorage& storage);

  Trace* trace_;  // not owned
  std::optional<std::string> violation_;

  std::map<uint64_t, uint64_t> leader_of_term_;
  std::set<uint64_t> completeness_checked_;  // terms whose leader was checked
  std::map<uint64_t, uint64_t> max_persisted_term_;  // node -> term
  // (node, incarnation) -> last in-memory term seen.
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> status_term_;
  // (node, incarnation) -> (term it led at the last check or 0, commit).
  std::map<std::pair<uint64_t, uint64_t>, std::pair<uint64_t, uint64_t>> led_;
  bool check_commit_rule_ = true;
  // (node, term) -> voted_for, from persisted hard states and granted votes.
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> vote_;
  std::map<std::pair<uint64_t, uint64_t>, LogRecord> log_;  // (index, term)
  // applied_[i - 1] is the entry applied at index i.
  std::vector<AppliedRecord> applied_;
  size_t max_applied_commands_ = 0;
  std::map<std::string, PendingRead> reads_;
  size_t max_read_result_ = 0;
  uint64_t reads_completed_ = 0;
};

}  // namespace raftkv::sim

#endif  // RAFTKV_TESTS_SIM_CHECKER_H_
