// No peer input can stop a member (issue 12; docs/peer-input.md). Against a
// real 3-member cluster, an attacker with nothing but network access to the
// peer ports:
//   1. asks RaftPeer.Members (unauthenticated) for the cluster ID and the
//      member IDs;
//   2. opens RaftPeer.Stream to every member and sends batches of crafted
//      Raft messages claiming to come from real members — one of each kind
//      raft/message_check.h refuses, the exact attack of the issue (an
//      AppendEntries response acknowledging an index far past the leader's
//      log, which stopped the leader on a CHECK), messages the door of
//      rpc/peer/peer_service.cc drops (a snapshot inside a batch, a `from`
//      other than the batch's), a batch with bytes that do not parse and a
//      batch of another cluster;
// and then every member process is still running, the cluster serves a put
// and a linearizable get through each member, and the refusals show in
// raftkv_peer_messages_refused_total and in the log.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "kv/requestpb.pb.h"
#include "rpc/raft_peer.grpc.pb.h"
#include "tests/e2e/process_cluster.h"

namespace raftkv::e2e {
namespace {

using raftpb::Message;

std::unique_ptr<peerpb::RaftPeer::Stub> PeerStub(const std::string& endpoint) {
  return peerpb::RaftPeer::NewStub(
      grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
}

// What the attacker learns from one Members call.
struct Recon {
  uint64_t cluster_id = 0;
  std::vector<uint64_t> ids;
};

absl::StatusOr<Recon> AskMembers(const std::string& peer_endpoint) {
  auto stub = PeerStub(peer_endpoint);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  peerpb::MembersResponse resp;
  grpc::Status s = stub->Members(&ctx, peerpb::MembersRequest(), &resp);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  kvpb::MemberList list;
  if (!list.ParseFromString(resp.member_list())) {
    return absl::DataLossError("member list does not parse");
  }
  Recon r;
  r.cluster_id = list.cluster_id();
  for (const kvpb::Member& m : list.members()) r.ids.push_back(m.id());
  return r;
}

// Sends `batches` on one Stream to `endpoint`; returns the call's status.
grpc::Status SendBatches(const std::string& endpoint,
                         const std::vector<peerpb::MessageBatch>& batches) {
  auto stub = PeerStub(endpoint);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(10));
  peerpb::StreamAck ack;
  auto writer = stub->Stream(&ctx, &ack);
  for (const peerpb::MessageBatch& b : batches) {
    if (!writer->Write(b)) break;  // the server ended the call
  }
  writer->WritesDone();
  return writer->Finish();
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

// One message of each kind the core refuses, to member `to` at `term`,
// claiming to come from member `from`, or from `leader` where only a
// leader's word would do harm.
std::vector<Message> CraftedMessages(uint64_t from, uint64_t leader,
                                     uint64_t to, uint64_t term) {
  std::vector<Message> out;
  // The attack of issue 12, acknowledged and rejected.
  Message ack = Msg(raftpb::MSG_APPEND_ENTRIES_RESPONSE, from, to, term);
  ack.set_index(1000000);
  out.push_back(ack);
  ack.set_reject(true);
  ack.set_reject_hint(3);
  out.push_back(ack);
  Message hint = Msg(raftpb::MSG_APPEND_ENTRIES_RESPONSE, from, to, term);
  hint.set_index(1);
  hint.set_reject(true);
  hint.set_reject_hint(2);
  out.push_back(hint);
  Message read = Msg(raftpb::MSG_HEARTBEAT_RESPONSE, from, to, term);
  // A ReadIndex round id (8 bytes, big-endian, as raft/read_only.h encodes
  // it) far beyond any round the leader sent.
  read.set_context(std::string("\x00\x00\x01\x00\x00\x00\x00\x00", 8));
  out.push_back(read);
  // A leader's messages: from the leader's own id (a follower refuses the
  // values), and from another member (not the leader of this term).
  Message hb = Msg(raftpb::MSG_HEARTBEAT, leader, to, term);
  hb.set_commit(1000000);
  out.push_back(hb);
  if (from != leader) {  // from the leader's id these would be obeyed
    out.push_back(Msg(raftpb::MSG_HEARTBEAT, from, to, term));
    out.push_back(Msg(raftpb::MSG_TIMEOUT_NOW, from, to, term));
  }
  Message append = Msg(raftpb::MSG_APPEND_ENTRIES, leader, to, term);
  append.set_index(1);
  append.set_log_term(1);
  for (uint64_t i : {2, 5}) {  // not contiguous
    raftpb::Entry* e = append.add_entries();
    e->set_term(term);
    e->set_index(i);
  }
  out.push_back(append);
  append.mutable_entries(1)->set_index(3);
  append.mutable_entries(1)->set_term(term + 5);  // past the message term
  out.push_back(append);
  append.mutable_entries(1)->set_term(term);
  append.mutable_entries(1)->set_type(static_cast<raftpb::EntryType>(9));
  out.push_back(append);
  Message log_term = Msg(raftpb::MSG_APPEND_ENTRIES, leader, to, term);
  log_term.set_index(1);
  log_term.set_log_term(term + 1);
  out.push_back(log_term);
  Message big = Msg(raftpb::MSG_APPEND_ENTRIES, leader, to, term);
  big.set_index(1);
  big.set_log_term(1);
  for (uint64_t i : {2, 3}) {
    raftpb::Entry* e = big.add_entries();
    e->set_term(term);
    e->set_index(i);
    e->set_data(std::string(700 << 10, 'x'));  // 1.4 MiB > 1 MiB together
  }
  out.push_back(big);
  // The envelope.
  out.push_back(Msg(static_cast<raftpb::MessageType>(99), from, to, term));
  Message vote = Msg(raftpb::MSG_REQUEST_VOTE, from, to, 0);
  vote.set_index(1000000);
  vote.set_log_term(term);
  out.push_back(vote);
  out.push_back(Msg(raftpb::MSG_PROPOSE, from, to, term + 5));
  out.push_back(Msg(raftpb::MSG_HEARTBEAT, from, to, ~uint64_t{0}));
  Message far = Msg(raftpb::MSG_APPEND_ENTRIES, from, to, term);
  far.set_index(~uint64_t{0});
  out.push_back(far);
  return out;
}

peerpb::MessageBatch Batch(uint64_t cluster_id, uint64_t from,
                           std::vector<Message> messages) {
  peerpb::MessageBatch b;
  b.set_cluster_id(cluster_id);
  b.set_from(from);
  for (Message& m : messages) *b.add_messages() = std::move(m);
  return b;
}

double Refused(ProcessCluster& c, int i, const std::string& kind) {
  return c.Metric(i, absl::StrCat("raftkv_peer_messages_refused_total{kind=\"",
                                  kind, "\"}"));
}

TEST(CraftedPeer, NoPeerInputStopsAMember) {
  ProcessCluster cluster(ClusterOptions{});
  ASSERT_TRUE(cluster.Start().ok()) << cluster.Logs();

  // 1. Reconnaissance, as an attacker would: one unauthenticated call.
  absl::StatusOr<Recon> recon = AskMembers(cluster.peer_endpoint(0));
  ASSERT_TRUE(recon.ok()) << recon.status();
  ASSERT_EQ(recon->ids.size(), 3u);
  std::vector<uint64_t> id(3);
  for (int i = 0; i < 3; ++i) {
    id[i] = cluster.MemberId(i);
    EXPECT_NE(std::find(recon->ids.begin(), recon->ids.end(), id[i]),
              recon->ids.end())
        << "Members did not list " << cluster.name(i);
  }

  // 2. The exact attack of the issue, until it lands in the leader's term
  //    (an election in between would make it stale, hence merely ignored).
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<int> leader = cluster.WaitForLeader(absl::Seconds(10));
        if (!leader.ok()) return false;
        auto st = cluster.Status(*leader);
        if (!st.ok()) return false;
        const uint64_t to = id[*leader];
        const uint64_t from = id[(*leader + 1) % 3];
        Message ack = Msg(raftpb::MSG_APPEND_ENTRIES_RESPONSE, from, to,
                          st->raftterm());
        ack.set_index(1000000);
        grpc::Status s =
            SendBatches(cluster.peer_endpoint(*leader),
                        {Batch(recon->cluster_id, from, {ack})});
        EXPECT_TRUE(s.ok()) << s.error_message();
        return WaitFor(
            [&] {
              return Refused(cluster, *leader, "ack_past_last_index") >= 1;
            },
            absl::Seconds(3));
      },
      absl::Seconds(30), absl::Milliseconds(100)))
      << cluster.Logs();

  // 3. Every kind, to every member, from every other member's id.
  absl::StatusOr<int> leader = cluster.WaitForLeader(absl::Seconds(10));
  ASSERT_TRUE(leader.ok()) << leader.status();
  for (int i = 0; i < 3; ++i) {
    auto st = cluster.Status(i);
    ASSERT_TRUE(st.ok()) << st.status();
    const uint64_t term = st->raftterm();
    std::vector<peerpb::MessageBatch> batches;
    for (int j = 0; j < 3; ++j) {
      if (j == i) continue;
      batches.push_back(
          Batch(recon->cluster_id, id[j],
                CraftedMessages(id[j], id[*leader], id[i], term)));
    }
    // Dropped at the door: a snapshot in a batch (it has no staged copy:
    // the apply thread would stop the member), a message whose `from` is
    // not the batch's, one addressed to another member, one from itself.
    Message snap = Msg(raftpb::MSG_INSTALL_SNAPSHOT, id[*leader], id[i], term);
    auto* meta = snap.mutable_snapshot()->mutable_metadata();
    meta->set_index(1000000);
    meta->set_term(term);
    for (uint64_t v : id) meta->mutable_conf_state()->add_voters(v);
    Message hb = Msg(raftpb::MSG_HEARTBEAT, id[(i + 1) % 3], id[i], term);
    Message wrong_to = Msg(raftpb::MSG_HEARTBEAT, id[*leader],
                           id[(i + 1) % 3], term);
    Message self = Msg(raftpb::MSG_HEARTBEAT_RESPONSE, id[i], id[i], term);
    batches.push_back(Batch(recon->cluster_id, id[*leader],
                            {snap, hb, wrong_to, self}));
    // Bytes that do not parse as a Message, inside a well-formed batch: the
    // server's Read fails and the call ends (its status is printed).
    peerpb::MessageBatch garbage = Batch(recon->cluster_id, id[*leader], {});
    garbage.GetReflection()
        ->MutableUnknownFields(&garbage)
        ->AddLengthDelimited(3, std::string("\xff\xff\xff\xff\x0f garbage"));
    grpc::Status s = SendBatches(cluster.peer_endpoint(i), batches);
    EXPECT_TRUE(s.ok()) << i << ": " << s.error_message();
    s = SendBatches(cluster.peer_endpoint(i), {garbage});
    std::printf("%s: a batch that does not parse: %d %s\n",
                cluster.name(i).c_str(), static_cast<int>(s.error_code()),
                s.error_message().c_str());
    // Another cluster's batch ends the stream.
    s = SendBatches(cluster.peer_endpoint(i),
                    {Batch(recon->cluster_id + 1, id[*leader],
                           CraftedMessages(id[*leader], id[*leader], id[i],
                                           term))});
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << i << ": " << s.error_message();
  }

  // 4. Everyone still runs and serves, through each member, a write and a
  //    linearizable read.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(cluster.Running(i)) << cluster.name(i) << " stopped\n"
                                    << cluster.Log(i);
  }
  ASSERT_TRUE(cluster.WaitForLeader(absl::Seconds(20)).ok()) << cluster.Logs();
  for (int i = 0; i < 3; ++i) {
    auto client = cluster.ClientOf(i);
    const std::string key = absl::StrCat("after-attack-", i);
    bool served = WaitFor(
        [&] {
          if (!client->Put(key, "ok").ok()) return false;
          auto got = client->Get(key);  // linearizable (ReadIndex)
          return got.ok() && got->kvs_size() == 1 &&
                 got->kvs(0).value() == "ok";
        },
        absl::Seconds(20), absl::Milliseconds(100));
    EXPECT_TRUE(served) << "member " << cluster.name(i) << " does not serve\n"
                        << cluster.Logs();
  }

  // 5. The refusals were counted and logged (at most once a second a kind).
  //    These kinds do not depend on the member's role or term. (An unknown
  //    type never gets this far: the peer service drops it at the door.)
  for (int i = 0; i < 3; ++i) {
    for (const char* kind : {"zero_term", "forwarded_with_term",
                             "term_out_of_range", "index_out_of_range"}) {
      EXPECT_TRUE(WaitFor([&] { return Refused(cluster, i, kind) >= 1; },
                          absl::Seconds(10)))
          << cluster.name(i) << " kind=" << kind;
    }
  }
  EXPECT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(cluster.Log(*leader, 1 << 20),
                                 "kind=ack_past_last_index");
      },
      absl::Seconds(10)))
      << cluster.Log(*leader);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(cluster.Running(i)) << cluster.name(i) << " stopped\n"
                                    << cluster.Log(i);
  }
}

}  // namespace
}  // namespace raftkv::e2e
