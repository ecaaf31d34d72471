// InvariantChecker: the safety properties of Raft, checked after every step
// of a scenario (STYLE.md practice 11). A violation is a test failure no
// matter what the script expects, so --rewrite cannot bless one.
//
// Checked:
//  - a node's current_term never decreases (in memory while it is up, and on
//    disk across crashes);
//  - one vote per term: a persisted voted_for never changes within a term;
//  - applied <= commit_index <= last index on every live node, and neither
//    the in-memory nor the persisted commit index decreases;
//  - at most one leader per term;
//  - state machine safety: no two nodes apply different entries at the same
//    index;
//  - leader completeness: a leader of term T holds every entry some node
//    applied while its own term was below T (such an entry was committed in
//    a term below T; a stale leader may lack entries committed later).
#ifndef RAFTKV_TESTS_RAFT_INVARIANTS_H_
#define RAFTKV_TESTS_RAFT_INVARIANTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "raft/raftpb.pb.h"
#include "tests/raft/node.h"

namespace raftkv::raft::scenario {

class InvariantChecker {
 public:
  using Nodes = std::map<uint64_t, std::unique_ptr<Node>>;

  // Records the entries node `id`, at `term`, applied (from a Ready).
  void OnApply(uint64_t id, uint64_t term,
               const std::vector<raftpb::Entry>& entries);
  // Forgets what node `id` held only in memory.
  void OnCrash(uint64_t id);

  // Checks every node; appends one line per new violation to `violations_`.
  void Check(const Nodes& nodes);

  // Returns and clears the violations found so far.
  std::vector<std::string> TakeViolations();

 private:
  void CheckNode(const Node& node);
  void CheckLeaderCompleteness(const Node& node);
  void Violation(std::string what);

  std::vector<std::string> violations_;
  // Per node: highest in-memory term and commit seen while up.
  std::map<uint64_t, uint64_t> live_term_;
  std::map<uint64_t, uint64_t> live_commit_;
  // Per node: last persisted hard state.
  std::map<uint64_t, raftpb::HardState> disk_;
  std::map<uint64_t, uint64_t> leader_of_term_;
  // index -> the entry applied there (first node to apply it wins).
  std::map<uint64_t, raftpb::Entry> applied_;
  // index -> lowest term of a node when it applied that index: the entry was
  // committed in that term or earlier.
  std::map<uint64_t, uint64_t> committed_by_term_;
};

}  // namespace raftkv::raft::scenario

#endif  // RAFTKV_TESTS_RAFT_INVARIANTS_H_
