#include "raft/quorum.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/strings/str_join.h"

namespace raftkv::raft {

uint64_t MajorityConfig::CommittedIndex(const AckedIndexFn& acked) const {
  if (ids_.empty()) return std::numeric_limits<uint64_t>::max();
  std::vector<uint64_t> indexes;
  indexes.reserve(ids_.size());
  for (uint64_t id : ids_) {
    uint64_t index = 0;
    if (!acked(id, &index)) index = 0;
    indexes.push_back(index);
  }
  // Sorted descending, the (quorum)-th largest index is held by a majority.
  std::sort(indexes.begin(), indexes.end(), std::greater<uint64_t>());
  const size_t quorum = ids_.size() / 2 + 1;
  return indexes[quorum - 1];
}

VoteResult MajorityConfig::Vote(const std::map<uint64_t, bool>& votes) const {
  if (ids_.empty()) return VoteResult::kWon;
  size_t granted = 0, missing = 0;
  for (uint64_t id : ids_) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++granted;
    }
  }
  const size_t quorum = ids_.size() / 2 + 1;
  if (granted >= quorum) return VoteResult::kWon;
  if (granted + missing >= quorum) return VoteResult::kPending;
  return VoteResult::kLost;
}

std::string MajorityConfig::DebugString() const {
  return "(" + absl::StrJoin(ids_, " ") + ")";
}

std::set<uint64_t> JointConfig::Ids() const {
  std::set<uint64_t> ids = incoming.ids();
  ids.insert(outgoing.ids().begin(), outgoing.ids().end());
  return ids;
}

uint64_t JointConfig::CommittedIndex(const AckedIndexFn& acked) const {
  return std::min(incoming.CommittedIndex(acked),
                  outgoing.CommittedIndex(acked));
}

VoteResult JointConfig::Vote(const std::map<uint64_t, bool>& votes) const {
  const VoteResult in = incoming.Vote(votes);
  const VoteResult out = outgoing.Vote(votes);
  if (in == out) return in;
  if (in == VoteResult::kLost || out == VoteResult::kLost) {
    return VoteResult::kLost;
  }
  return VoteResult::kPending;  // one won, the other pending
}

std::string JointConfig::DebugString() const {
  if (!joint()) return incoming.DebugString();
  return incoming.DebugString() + "&&" + outgoing.DebugString();
}

}  // namespace raftkv::raft
