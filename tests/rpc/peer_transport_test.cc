// PeerTransport over real gRPC on 127.0.0.1: delivery, order, batching,
// loss policy (dead peer, removed peer) and reconnection.
#include "rpc/peer/peer_transport.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/rpc/peer_test_util.h"

namespace raftkv::rpc::testing {
namespace {

using State = RecordingHandler::State;

// Messages from `from` in `received`, in arrival order.
std::vector<uint64_t> IndexesFrom(const State& s, uint64_t from) {
  std::vector<uint64_t> out;
  for (const raftpb::Message& m : s.received) {
    if (m.from() == from) out.push_back(m.index());
  }
  return out;
}

bool WaitConnected(PeerTransport& t, uint64_t id) {
  return Eventually([&] { return t.Connected(id); });
}

// Sends `count` messages from a to b in Send calls of `per_call`.
void SendRange(Member& a, Member& b, uint64_t first, uint64_t count,
               uint64_t per_call) {
  for (uint64_t i = first; i < first + count;) {
    std::vector<raftpb::Message> msgs;
    for (uint64_t j = 0; j < per_call && i < first + count; ++j, ++i) {
      msgs.push_back(Msg(a.id(), b.id(), i));
    }
    a.transport().Send(std::move(msgs));
  }
}

// Three members, full mesh: every pair's messages arrive complete, in order,
// and coalesced into far fewer MessageBatch frames than messages.
TEST(PeerTransportTest, DeliversInOrderPerPairAndBatches) {
  Member m1(1), m2(2), m3(3);
  Connect({&m1, &m2, &m3});
  for (auto [a, b] :
       {std::pair{&m1, &m2}, {&m1, &m3}, {&m2, &m1}, {&m3, &m1}, {&m2, &m3}}) {
    ASSERT_TRUE(WaitConnected(a->transport(), b->id()));
  }
  constexpr uint64_t kCount = 2000;
  SendRange(m1, m2, 1, kCount, 100);
  SendRange(m3, m2, 1, kCount, 100);
  SendRange(m2, m1, 1, kCount, 100);
  std::vector<uint64_t> want(kCount);
  for (uint64_t i = 0; i < kCount; ++i) want[i] = i + 1;
  ASSERT_TRUE(m2.handler().WaitUntil(
      [](const State& s) { return s.received.size() == 2 * kCount; }));
  ASSERT_TRUE(m1.handler().WaitUntil(
      [](const State& s) { return s.received.size() == kCount; }));
  EXPECT_EQ(IndexesFrom(m2.handler().state(), 1), want);
  EXPECT_EQ(IndexesFrom(m2.handler().state(), 3), want);
  EXPECT_EQ(IndexesFrom(m1.handler().state(), 2), want);
  // Each stream opens with one empty batch; the rest carry messages.
  const PeerService::Stats stats = m2.service().stats();
  EXPECT_EQ(stats.messages, 2 * kCount);
  EXPECT_LE(stats.batches, 2 * kCount / 10) << "messages were not batched";
  EXPECT_EQ(m2.handler().state().unreachable.count(1), 0u);
}

// Sending to a dead peer never blocks the Raft thread: 100k messages return
// promptly, are dropped, and the peer is reported unreachable, rate-limited.
TEST(PeerTransportTest, DeadPeerDropsWithoutBlockingAndReportsUnreachable) {
  Member m1(1);
  m1.transport().AddPeer(2, absl::StrCat("http://127.0.0.1:", UnusedPort()));
  auto sent = std::async(std::launch::async, [&] {
    for (uint64_t i = 1; i <= 100000; i += 1000) {
      std::vector<raftpb::Message> msgs;
      for (uint64_t j = i; j < i + 1000; ++j) msgs.push_back(Msg(1, 2, j));
      m1.transport().Send(std::move(msgs));
    }
  });
  ASSERT_EQ(sent.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "Send blocked on a dead peer";
  ASSERT_TRUE(m1.handler().WaitUntil(
      [](const State& s) { return s.unreachable.count(2) > 0; }));
  EXPECT_LT(m1.handler().state().unreachable.at(2), 1000)
      << "ReportUnreachable is not rate-limited";
  EXPECT_FALSE(m1.transport().Connected(2));
}

// A peer that goes away is noticed (unreachable) and, once it is back on
// the same URL, the sender reconnects by itself and delivers again.
TEST(PeerTransportTest, ReconnectsAfterPeerRestart) {
  Member m1(1), m2(2);
  Connect({&m1, &m2});
  m1.transport().Send({Msg(1, 2, 1)});
  ASSERT_TRUE(m2.handler().WaitUntil(
      [](const State& s) { return s.received.size() == 1; }));

  m2.StopServer();
  ASSERT_TRUE(m1.handler().WaitUntil(
      [](const State& s) { return s.unreachable.count(2) > 0; }));
  m2.StartServer();

  // Raft retransmits what the transport dropped; so does this loop, until
  // a message gets through the new stream.
  uint64_t index = 2;
  const absl::Time deadline = absl::Now() + kDeadline;
  bool delivered = false;
  while (!delivered && absl::Now() < deadline) {
    m1.transport().Send({Msg(1, 2, index++)});
    delivered = m2.handler().WaitUntil(
        [](const State& s) { return s.received.size() >= 2; },
        absl::Milliseconds(50));
  }
  ASSERT_TRUE(delivered) << "no message delivered after the peer restarted";
  EXPECT_TRUE(m1.transport().Connected(2));
  // Whatever got through after the restart is still in order.
  std::vector<uint64_t> got = IndexesFrom(m2.handler().state(), 1);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
}

// After RemovePeer, messages to that peer are dropped silently; the other
// peers are unaffected.
TEST(PeerTransportTest, RemovedPeerReceivesNothing) {
  Member m1(1), m2(2), m3(3);
  Connect({&m1, &m2, &m3});
  m1.transport().RemovePeer(2);
  EXPECT_FALSE(m1.transport().Connected(2));
  m1.transport().Send({Msg(1, 2, 1), Msg(1, 3, 1)});
  ASSERT_TRUE(m3.handler().WaitUntil(
      [](const State& s) { return s.received.size() == 1; }));
  EXPECT_EQ(m2.handler().state().received.size(), 0u);
  EXPECT_EQ(m2.service().stats().messages, 0u);
}

// Stop() joins every thread promptly even with streams open and a peer
// down; the destructor after it is a no-op.
TEST(PeerTransportTest, StopJoinsPromptly) {
  Member m1(1), m2(2);
  Connect({&m1, &m2});
  m1.transport().AddPeer(3, absl::StrCat("127.0.0.1:", UnusedPort()));
  ASSERT_TRUE(WaitConnected(m1.transport(), 2));
  auto stopped = std::async(std::launch::async, [&] { m1.transport().Stop(); });
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(10)),
            std::future_status::ready);
  m1.transport().Send({Msg(1, 2, 1)});  // after Stop: dropped, no crash
}

}  // namespace
}  // namespace raftkv::rpc::testing
