// ReadIndex rounds (Raft thesis 6.4): a leader answers a linearizable read
// with its commit index once a quorum has confirmed, after the read arrived,
// that it is still the leader.
//
// Batching: every read that arrives while a round is "open" (created but its
// heartbeats not yet handed to the driver) joins that round, so all reads
// between two Readys share one heartbeat round. A round is identified by a
// sequence number carried in the heartbeats' context; an acknowledgement of
// round k also confirms every earlier round, since it was sent later.
#ifndef RAFTKV_RAFT_READ_ONLY_H_
#define RAFTKV_RAFT_READ_ONLY_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "raft/quorum.h"

namespace raftkv::raft {

struct ReadRequest {
  std::string ctx;
  uint64_t from = 0;  // the node that asked (this node for local reads)
};

struct ReadRound {
  uint64_t id = 0;
  // The commit index when the latest read joined: each read's answer must be
  // at least the commit index at its arrival.
  uint64_t index = 0;
  std::vector<ReadRequest> requests;
  std::map<uint64_t, bool> acks;  // voters that confirmed (all true)
};

class ReadOnly {
 public:
  // Adds a read at commit index `commit`. Returns the id of a newly created
  // round (the caller broadcasts its heartbeats), or 0 if the read joined
  // the open round.
  uint64_t Add(ReadRequest request, uint64_t commit, uint64_t self);

  // Closes the open round: its heartbeats are on their way.
  void CloseOpenRound() { open_ = false; }

  // Records that `from` confirmed round `round_id` (and all earlier ones),
  // then pops and returns, in order, the rounds a quorum has confirmed.
  std::vector<ReadRound> Ack(uint64_t from, uint64_t round_id,
                             const JointConfig& voters);

  // The newest round id, for heartbeats that may confirm it (0: none).
  uint64_t LastRoundId() const {
    return rounds_.empty() ? 0 : rounds_.back().id;
  }
  // The newest round id ever created (0: none); a heartbeat answer naming
  // a later one answers a heartbeat this leader never sent.
  uint64_t LastIssuedRoundId() const { return next_id_ - 1; }
  bool empty() const { return rounds_.empty(); }
  void Reset();

  static std::string EncodeRoundId(uint64_t id);
  static uint64_t DecodeRoundId(const std::string& ctx);

 private:
  std::deque<ReadRound> rounds_;
  uint64_t next_id_ = 1;
  bool open_ = false;  // whether rounds_.back() still accepts reads
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_READ_ONLY_H_
