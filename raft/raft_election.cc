// Ticks, elections (with pre-vote), vote granting and check-quorum.
#include "raft/check.h"
#include "raft/raft_impl.h"

namespace raftkv::raft {

using raftpb::Message;

void Raft::Impl::Tick() {
  if (role_ == Role::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::Impl::ResetRandomizedElectionTimeout() {
  std::uniform_int_distribution<int> dist(election_timeout_,
                                          2 * election_timeout_ - 1);
  randomized_election_timeout_ = dist(rng_);
}

void Raft::Impl::TickElection() {
  ++election_elapsed_;
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    Hup(/*transfer=*/false);
  }
}

void Raft::Impl::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= election_timeout_) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      // Check-quorum: a leader that has not heard from a quorum within an
      // election timeout steps down, so that a partitioned leader stops
      // serving (and clients go elsewhere).
      if (!tracker_.QuorumActive()) {
        BecomeFollower(term_, 0);
        return;
      }
      for (auto& [id, pr] : tracker_.progress) {
        if (id != id_) pr.recent_active = false;
      }
    }
    // A transfer that did not finish within an election timeout is abandoned.
    AbortLeaderTransfer();
  }
  if (heartbeat_elapsed_ >= heartbeat_timeout_) {
    heartbeat_elapsed_ = 0;
    // A heartbeat also confirms the newest pending read round, if any.
    const uint64_t round = read_only_.LastRoundId();
    BroadcastHeartbeat(round == 0 ? "" : ReadOnly::EncodeRoundId(round));
  }
}

void Raft::Impl::Hup(bool transfer) {
  if (role_ == Role::kLeader || !Promotable()) return;
  // A committed but unapplied membership change may make this node a
  // non-voter; wait until it is applied.
  if (HasUnappliedConfChange()) return;
  Campaign(config_.pre_vote && !transfer, transfer);
}

void Raft::Impl::Campaign(bool pre_vote, bool transfer) {
  uint64_t term;
  raftpb::MessageType type;
  if (pre_vote) {
    BecomePreCandidate();
    type = raftpb::MSG_REQUEST_PRE_VOTE;
    term = term_ + 1;  // the term we would campaign in; ours stays
  } else {
    BecomeCandidate();
    type = raftpb::MSG_REQUEST_VOTE;
    term = term_;
  }
  if (tracker_.RecordVote(id_, true) == VoteResult::kWon) {
    // A single-voter cluster wins at once.
    if (pre_vote) {
      Campaign(/*pre_vote=*/false, transfer);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (uint64_t voter : tracker_.config.voters.Ids()) {
    if (voter == id_) continue;
    Message m;
    m.set_to(voter);
    m.set_type(type);
    m.set_term(term);
    m.set_index(log_.LastIndex());
    m.set_log_term(log_.LastTerm());
    if (transfer) m.set_context(kCampaignTransfer);
    Send(std::move(m));
  }
}

void Raft::Impl::HandleVoteRequest(const Message& m) {
  const bool pre = m.type() == raftpb::MSG_REQUEST_PRE_VOTE;
  // One vote per term: we may repeat a vote we cast, or cast a first one if
  // we know of no leader in this term; a pre-vote for a future term binds
  // nothing.
  const bool can_vote = vote_ == m.from() || (vote_ == 0 && lead_ == 0) ||
                        (pre && m.term() > term_);
  const bool up_to_date = config_.testing.unsafe_vote_without_log_check ||
                          log_.IsUpToDate(m.index(), m.log_term());
  Message resp;
  resp.set_to(m.from());
  resp.set_type(pre ? raftpb::MSG_REQUEST_PRE_VOTE_RESPONSE
                    : raftpb::MSG_REQUEST_VOTE_RESPONSE);
  if (can_vote && up_to_date) {
    // Reply with the request's term: a pre-candidate must recognise its own
    // (future) term in the answer.
    resp.set_term(m.term());
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    resp.set_term(term_);
    resp.set_reject(true);
  }
  Send(std::move(resp));
}

void Raft::Impl::HandleVoteResponse(const Message& m) {
  const bool expected = (role_ == Role::kPreCandidate &&
                         m.type() == raftpb::MSG_REQUEST_PRE_VOTE_RESPONSE) ||
                        (role_ == Role::kCandidate &&
                         m.type() == raftpb::MSG_REQUEST_VOTE_RESPONSE);
  if (!expected) return;
  switch (tracker_.RecordVote(m.from(), !m.reject())) {
    case VoteResult::kWon:
      if (role_ == Role::kPreCandidate) {
        Campaign(/*pre_vote=*/false, /*transfer=*/false);
      } else {
        BecomeLeader();
        BroadcastAppend();
      }
      break;
    case VoteResult::kLost:
      BecomeFollower(term_, 0);
      break;
    case VoteResult::kPending:
      break;
  }
}

}  // namespace raftkv::raft
