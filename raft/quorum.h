// Quorum math: which index a majority has acknowledged, and who won a vote.
// A joint configuration (Raft thesis 4.3) needs a majority of each half.
#ifndef RAFTKV_RAFT_QUORUM_H_
#define RAFTKV_RAFT_QUORUM_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

namespace raftkv::raft {

enum class VoteResult { kPending, kLost, kWon };

// Looks up the acknowledged index of a voter; returns false when unknown.
using AckedIndexFn = std::function<bool(uint64_t id, uint64_t* index)>;

class MajorityConfig {
 public:
  MajorityConfig() = default;
  explicit MajorityConfig(std::set<uint64_t> ids) : ids_(std::move(ids)) {}

  // The largest index acknowledged by a majority. An empty config returns
  // UINT64_MAX, so that it never limits a joint configuration.
  uint64_t CommittedIndex(const AckedIndexFn& acked) const;

  // Outcome of a vote given the votes cast so far (true = granted). An
  // empty config wins, for the same reason as above.
  VoteResult Vote(const std::map<uint64_t, bool>& votes) const;

  const std::set<uint64_t>& ids() const { return ids_; }
  std::set<uint64_t>& mutable_ids() { return ids_; }
  bool Contains(uint64_t id) const { return ids_.count(id) > 0; }
  bool empty() const { return ids_.empty(); }
  size_t size() const { return ids_.size(); }
  std::string DebugString() const;

 private:
  std::set<uint64_t> ids_;
};

class JointConfig {
 public:
  // incoming: the configuration being moved to (the only one when not joint).
  MajorityConfig incoming;
  // outgoing: non-empty only while joint.
  MajorityConfig outgoing;

  bool joint() const { return !outgoing.empty(); }
  bool Contains(uint64_t id) const {
    return incoming.Contains(id) || outgoing.Contains(id);
  }
  std::set<uint64_t> Ids() const;
  uint64_t CommittedIndex(const AckedIndexFn& acked) const;
  VoteResult Vote(const std::map<uint64_t, bool>& votes) const;
  std::string DebugString() const;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_QUORUM_H_
