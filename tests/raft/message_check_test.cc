// CheckMessage (raft/message_check.h): one accepted and one refused message
// per kind, judged against a hand-made receiver. The scenario scripts
// testdata/peer_input_*.txt show the same refusals inside a running cluster.
#include "raft/message_check.h"

#include <string>

#include "gtest/gtest.h"
#include "raft/read_only.h"

namespace raftkv::raft {
namespace {

using raftpb::Message;

// Member 1, leader of term 2 with entries up to 5 and read rounds up to 3.
ReceiverView Leader() {
  ReceiverView v;
  v.id = 1;
  v.term = 2;
  v.role = Role::kLeader;
  v.lead = 1;
  v.last_index = 5;
  v.last_read_round = 3;
  v.max_entries_bytes = 1000;
  return v;
}

// Member 2, follower of leader 1 in term 2, entries up to 5.
ReceiverView Follower() {
  ReceiverView v = Leader();
  v.id = 2;
  v.role = Role::kFollower;
  v.last_read_round = 0;
  return v;
}

Message Msg(raftpb::MessageType type, uint64_t from, uint64_t to,
            uint64_t term) {
  Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

// An AppendEntries from leader 1 to follower 2: prev (2/5), then entries
// at 6, 7... of term 2.
Message Append(int n) {
  Message m = Msg(raftpb::MSG_APPEND_ENTRIES, 1, 2, 2);
  m.set_index(5);
  m.set_log_term(2);
  for (int i = 0; i < n; ++i) {
    raftpb::Entry* e = m.add_entries();
    e->set_term(2);
    e->set_index(6 + i);
  }
  return m;
}

Message Snapshot() {
  Message m = Msg(raftpb::MSG_INSTALL_SNAPSHOT, 1, 2, 2);
  auto* meta = m.mutable_snapshot()->mutable_metadata();
  meta->set_index(10);
  meta->set_term(2);
  meta->mutable_conf_state()->add_voters(1);
  meta->mutable_conf_state()->add_voters(2);
  return m;
}

std::string Check(const Message& m, const ReceiverView& v) {
  return RefusalName(CheckMessage(m, v));
}

TEST(MessageCheck, EveryKindHasAName) {
  for (int k = 0; k < kNumRefusalKinds; ++k) {
    EXPECT_NE(std::string(RefusalName(static_cast<Refusal>(k))), "unknown")
        << k;
  }
}

TEST(MessageCheck, CorrectMessagesAreAccepted) {
  EXPECT_EQ(Check(Append(3), Follower()), "accepted");
  EXPECT_EQ(Check(Snapshot(), Follower()), "accepted");
  Message ack = Msg(raftpb::MSG_APPEND_ENTRIES_RESPONSE, 2, 1, 2);
  ack.set_index(5);
  EXPECT_EQ(Check(ack, Leader()), "accepted");
  Message hb = Msg(raftpb::MSG_HEARTBEAT, 1, 2, 2);
  hb.set_commit(5);
  EXPECT_EQ(Check(hb, Follower()), "accepted");
  // Forwarded types carry no term, and from may be anyone (even us).
  EXPECT_EQ(Check(Msg(raftpb::MSG_PROPOSE, 3, 1, 0), Leader()), "accepted");
  EXPECT_EQ(Check(Msg(raftpb::MSG_TRANSFER_LEADER, 1, 1, 0), Leader()),
            "accepted");
  // A vote request from a member we do not know yet (a joiner).
  Message vote = Msg(raftpb::MSG_REQUEST_VOTE, 9, 2, 3);
  vote.set_index(7);
  vote.set_log_term(2);
  EXPECT_EQ(Check(vote, Follower()), "accepted");
  // A newer leader (any id) at a higher term; a stale one at a lower term.
  Message newer = Append(1);
  newer.set_from(3);
  newer.set_term(3);
  EXPECT_EQ(Check(newer, Follower()), "accepted");
  Message stale = Msg(raftpb::MSG_HEARTBEAT, 3, 2, 1);
  stale.set_commit(100);
  EXPECT_EQ(Check(stale, Follower()), "accepted");
  // An acknowledgement past our log in another term is not ours to judge.
  Message other = ack;
  other.set_term(1);
  other.set_index(100);
  EXPECT_EQ(Check(other, Leader()), "accepted");
}

TEST(MessageCheck, Envelope) {
  EXPECT_EQ(Check(Msg(raftpb::MSG_UNKNOWN, 2, 1, 2), Leader()), "unknown_type");
  EXPECT_EQ(Check(Msg(static_cast<raftpb::MessageType>(99), 2, 1, 2), Leader()),
            "unknown_type");
  EXPECT_EQ(Check(Msg(raftpb::MSG_HEARTBEAT_RESPONSE, 0, 1, 2), Leader()),
            "zero_from");
  EXPECT_EQ(Check(Msg(raftpb::MSG_HEARTBEAT_RESPONSE, 2, 3, 2), Leader()),
            "wrong_to");
  EXPECT_EQ(Check(Msg(raftpb::MSG_HEARTBEAT_RESPONSE, 1, 1, 2), Leader()),
            "from_self");
  EXPECT_EQ(Check(Msg(raftpb::MSG_REQUEST_VOTE, 2, 1, 0), Leader()),
            "zero_term");
  EXPECT_EQ(Check(Msg(raftpb::MSG_READ_INDEX, 2, 1, 2), Leader()),
            "forwarded_with_term");
  EXPECT_EQ(Check(Msg(raftpb::MSG_REQUEST_VOTE, 2, 1, kMaxTerm), Leader()),
            "term_out_of_range");
  Message far = Msg(raftpb::MSG_HEARTBEAT, 1, 2, 2);
  far.set_commit(kMaxIndex);
  EXPECT_EQ(Check(far, Follower()), "index_out_of_range");
  Message vote = Msg(raftpb::MSG_REQUEST_PRE_VOTE, 3, 2, 3);
  vote.set_log_term(4);
  EXPECT_EQ(Check(vote, Follower()), "log_term_past_term");
}

TEST(MessageCheck, Entries) {
  Message big = Append(2);
  big.mutable_entries(0)->set_data(std::string(1000, 'x'));
  EXPECT_EQ(Check(big, Follower()), "oversized_entries");
  Message one_big = Append(1);  // a single entry always goes
  one_big.mutable_entries(0)->set_data(std::string(5000, 'x'));
  EXPECT_EQ(Check(one_big, Follower()), "accepted");

  Message type = Append(1);
  type.mutable_entries(0)->set_type(static_cast<raftpb::EntryType>(7));
  EXPECT_EQ(Check(type, Follower()), "bad_entry_type");

  Message gap = Append(3);
  gap.mutable_entries(2)->set_index(9);
  EXPECT_EQ(Check(gap, Follower()), "entries_not_contiguous");
  Message start = Append(1);
  start.mutable_entries(0)->set_index(5);
  EXPECT_EQ(Check(start, Follower()), "entries_not_contiguous");

  Message future = Append(2);
  future.mutable_entries(1)->set_term(3);
  EXPECT_EQ(Check(future, Follower()), "entry_term_out_of_order");
  Message down = Append(2);
  down.set_log_term(1);
  down.mutable_entries(1)->set_term(1);
  EXPECT_EQ(Check(down, Follower()), "entry_term_out_of_order");
  Message below_prev = Append(1);
  below_prev.mutable_entries(0)->set_term(1);
  EXPECT_EQ(Check(below_prev, Follower()), "entry_term_out_of_order");
}

TEST(MessageCheck, Snapshots) {
  Message none = Snapshot();
  none.clear_snapshot();
  EXPECT_EQ(Check(none, Follower()), "snapshot_bad_metadata");
  Message future = Snapshot();
  future.mutable_snapshot()->mutable_metadata()->set_term(3);
  EXPECT_EQ(Check(future, Follower()), "snapshot_bad_metadata");
  Message no_voters = Snapshot();
  no_voters.mutable_snapshot()->mutable_metadata()->clear_conf_state();
  EXPECT_EQ(Check(no_voters, Follower()), "snapshot_bad_conf_state");
  Message both = Snapshot();
  both.mutable_snapshot()->mutable_metadata()->mutable_conf_state()
      ->add_learners(2);
  EXPECT_EQ(Check(both, Follower()), "snapshot_bad_conf_state");
}

TEST(MessageCheck, AgainstTheReceiver) {
  Message second = Append(1);
  second.set_from(3);
  EXPECT_EQ(Check(second, Follower()), "not_from_leader");
  Message timeout = Msg(raftpb::MSG_TIMEOUT_NOW, 3, 2, 2);
  EXPECT_EQ(Check(timeout, Follower()), "not_from_leader");
  ReceiverView no_leader = Follower();
  no_leader.lead = 0;
  EXPECT_EQ(Check(timeout, no_leader), "accepted");

  Message hb = Msg(raftpb::MSG_HEARTBEAT, 1, 2, 2);
  hb.set_commit(6);
  EXPECT_EQ(Check(hb, Follower()), "commit_past_last_index");

  // The attack of issue 12: an acknowledgement far past the leader's log.
  Message ack = Msg(raftpb::MSG_APPEND_ENTRIES_RESPONSE, 2, 1, 2);
  ack.set_index(1000000);
  EXPECT_EQ(Check(ack, Leader()), "ack_past_last_index");
  ack.set_reject(true);
  EXPECT_EQ(Check(ack, Leader()), "ack_past_last_index");
  ack.set_index(4);
  ack.set_reject_hint(5);
  EXPECT_EQ(Check(ack, Leader()), "reject_hint_past_index");
  ack.set_reject_hint(3);
  EXPECT_EQ(Check(ack, Leader()), "accepted");

  Message read = Msg(raftpb::MSG_HEARTBEAT_RESPONSE, 2, 1, 2);
  read.set_context(ReadOnly::EncodeRoundId(4));
  EXPECT_EQ(Check(read, Leader()), "read_round_not_issued");
  read.set_context(ReadOnly::EncodeRoundId(3));
  EXPECT_EQ(Check(read, Leader()), "accepted");
}

TEST(MessageCheck, DetailNamesTheValues) {
  Message ack = Msg(raftpb::MSG_APPEND_ENTRIES_RESPONSE, 2, 1, 2);
  ack.set_index(1000000);
  std::string detail;
  EXPECT_EQ(CheckMessage(ack, Leader(), &detail), Refusal::kAckPastLastIndex);
  EXPECT_EQ(detail, "index=1000000 last=5");
}

}  // namespace
}  // namespace raftkv::raft
