// PeerService and StartPeerServer against raw gRPC clients: the cluster
// check, message validation, garbage bytes, a taken port, URL parsing.
#include "rpc/peer/peer_service.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "rpc/peer/peer_channel.h"
#include "rpc/peer/peer_server.h"
#include "tests/rpc/peer_test_util.h"

namespace raftkv::rpc::testing {
namespace {

using ::testing::HasSubstr;
using State = RecordingHandler::State;

std::unique_ptr<peerpb::RaftPeer::Stub> StubFor(const Member& m) {
  return peerpb::RaftPeer::NewStub(
      NewPeerChannel(*PeerUrlToTarget(m.url()), PeerChannelOptions{}));
}

// Sends `batches` on one Stream and returns the call's status.
grpc::Status SendBatches(const Member& m,
                         const std::vector<peerpb::MessageBatch>& batches) {
  auto stub = StubFor(m);
  grpc::ClientContext ctx;
  peerpb::StreamAck ack;
  auto writer = stub->Stream(&ctx, &ack);
  for (const auto& b : batches) {
    if (!writer->Write(b)) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

peerpb::MessageBatch Batch(uint64_t cluster_id,
                           std::vector<raftpb::Message> msgs) {
  peerpb::MessageBatch b;
  b.set_cluster_id(cluster_id);
  b.set_from(msgs.empty() ? 1 : msgs[0].from());
  for (auto& m : msgs) *b.add_messages() = std::move(m);
  return b;
}

// A member of another cluster (stale config, same ports) is refused with
// FAILED_PRECONDITION naming both clusters; nothing reaches Raft.
TEST(PeerServiceTest, RefusesBatchOfAnotherCluster) {
  Member m2(2, /*cluster_id=*/0xaa);
  const grpc::Status s = SendBatches(m2, {Batch(0xbb, {Msg(1, 2, 1)})});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(),
            "raftkv: peer belongs to cluster bb, this member to cluster aa");
  EXPECT_TRUE(m2.handler().state().received.empty());
}

// A transport of another cluster never delivers to this one.
TEST(PeerServiceTest, TransportOfAnotherClusterDeliversNothing) {
  Member m1(1, /*cluster_id=*/0xbb), m2(2, /*cluster_id=*/0xaa);
  m1.transport().AddPeer(2, m2.url());
  m1.transport().Send({Msg(1, 2, 1)});
  ASSERT_TRUE(m1.handler().WaitUntil(
      [](const State& s) { return s.unreachable.count(2) > 0; }));
  EXPECT_TRUE(m2.handler().state().received.empty());
}

// Messages addressed to another member, from nobody, or of an unknown type
// are dropped; the valid ones around them are delivered in order.
TEST(PeerServiceTest, DropsMisaddressedAndInvalidMessages) {
  Member m2(2);
  raftpb::Message unknown_type = Msg(1, 2, 3);
  unknown_type.set_type(static_cast<raftpb::MessageType>(999));
  const grpc::Status s = SendBatches(
      m2, {Batch(kClusterId, {Msg(1, 2, 1), Msg(1, 3, 2), unknown_type,
                              Msg(0, 2, 4), Msg(1, 2, 5)})});
  EXPECT_TRUE(s.ok()) << s.error_message();
  const State got = m2.handler().state();
  ASSERT_EQ(got.received.size(), 2u);
  EXPECT_EQ(got.received[0].index(), 1u);
  EXPECT_EQ(got.received[1].index(), 5u);
  EXPECT_EQ(m2.service().stats().dropped, 3u);
}

// Raw bytes that are not a MessageBatch end that call but not the member:
// it keeps serving, and nothing of the garbage reaches Raft.
TEST(PeerServiceTest, GarbageBytesDoNotCrashTheMember) {
  Member m2(2);
  grpc::GenericStub stub(
      NewPeerChannel(*PeerUrlToTarget(m2.url()), PeerChannelOptions{}));
  const std::string garbage(64, '\xff');  // an unterminated varint
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::ClientContext ctx;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/raftkv.peerpb.RaftPeer/Stream", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status s) {
                   status = s;
                   done.Notify();
                 });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kDeadline));
  EXPECT_TRUE(m2.handler().state().received.empty());
  EXPECT_TRUE(SendBatches(m2, {Batch(kClusterId, {Msg(1, 2, 1)})}).ok());
  EXPECT_EQ(m2.handler().state().received.size(), 1u);
}

// A second member on a taken peer port fails with the URL and the cause.
TEST(PeerServerTest, PortInUseNamesTheUrl) {
  Member m1(1);
  RecordingHandler handler;
  PeerService service(9, kClusterId, &handler);
  absl::StatusOr<PeerServer> second = StartPeerServer(m1.url(), &service);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr(absl::StrCat("raftkv: cannot listen on peer URL ",
                                     m1.url(), ": Address already in use")));
}

TEST(PeerUrlTest, AcceptsHttpHttpsUnixAndBareHostPortOnly) {
  EXPECT_EQ(*PeerUrlToTarget("unix://etcd.unix:1"), "unix:etcd.unix:1");
  EXPECT_EQ(*PeerUrlToTarget("unixs://sock"), "unix:sock");
  EXPECT_EQ(*PeerUrlToTarget("unix:///tmp/m1.sock"), "unix:/tmp/m1.sock");
  EXPECT_EQ(*PeerUrlToTarget("http://127.0.0.1:2380"), "127.0.0.1:2380");
  EXPECT_EQ(*PeerUrlToTarget("127.0.0.1:2380"), "127.0.0.1:2380");
  EXPECT_EQ(*PeerUrlToTarget("http://127.0.0.1:2380/"), "127.0.0.1:2380");
  EXPECT_EQ(*PeerUrlToTarget("http://[::1]:2380"), "[::1]:2380");
  EXPECT_EQ(*PeerUrlToTarget("https://127.0.0.1:2380"), "127.0.0.1:2380");
  for (const char* bad :
       {"unix://", "ftp://x:1", "http://127.0.0.1", "127.0.0.1:x",
        "http://127.0.0.1:2380/path", ":2380", "127.0.0.1:70000"}) {
    EXPECT_FALSE(PeerUrlToTarget(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace raftkv::rpc::testing
