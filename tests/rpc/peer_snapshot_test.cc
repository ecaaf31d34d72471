// Snapshot streaming over InstallSnapshot: a multi-MB source arrives intact
// and is acknowledged; sink, source and connection failures are reported as
// ReportSnapshot(ok=false) and never reach Raft as an installed snapshot.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rpc/peer/snapshot_sender.h"
#include "tests/rpc/peer_test_util.h"

namespace raftkv::rpc::testing {
namespace {

using State = RecordingHandler::State;

// Serves `data` in pieces of `piece` bytes; fails after `fail_after` pieces
// if set.
class StringSource : public raft::SnapshotSource {
 public:
  StringSource(std::string data, size_t piece, int fail_after = -1)
      : data_(std::move(data)), piece_(piece), fail_after_(fail_after) {}
  absl::StatusOr<bool> Next(std::string* chunk) override {
    if (served_++ == fail_after_) return absl::DataLossError("bad sector");
    if (pos_ >= data_.size()) return false;
    chunk->assign(data_, pos_, piece_);
    pos_ += chunk->size();
    return true;
  }

 private:
  const std::string data_;
  const size_t piece_;
  const int fail_after_;
  int served_ = 0;
  size_t pos_ = 0;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(gen());
  return out;
}

raftpb::Message SnapshotMsg(uint64_t from, uint64_t to) {
  raftpb::Message m = Msg(from, to, 0, raftpb::MSG_INSTALL_SNAPSHOT);
  m.mutable_snapshot()->mutable_metadata()->set_index(42);
  m.mutable_snapshot()->mutable_metadata()->set_term(3);
  return m;
}

bool Reported(const State& s) { return !s.snapshot_reports.empty(); }

// 8 MiB in uneven 300 KiB pieces, re-sliced into 1 MiB chunks: the receiver
// staged exactly the source's bytes, finished the sink before Raft saw the
// message, and the sender got ReportSnapshot(ok=true).
TEST(PeerSnapshotTest, MultiMegabyteSnapshotArrivesIntact) {
  Member m1(1), m2(2);
  Connect({&m1, &m2});
  const std::string data = RandomBytes(8 << 20, 7);
  m1.transport().SendSnapshot(SnapshotMsg(1, 2),
                              std::make_unique<StringSource>(data, 300 << 10));
  ASSERT_TRUE(m1.handler().WaitUntil(Reported));
  EXPECT_EQ(m1.handler().state().snapshot_reports,
            (std::vector<std::pair<uint64_t, bool>>{{2, true}}));
  const State got = m2.handler().state();
  EXPECT_TRUE(got.snapshot_finished);
  EXPECT_EQ(got.snapshot_data.size(), data.size());
  EXPECT_EQ(Fnv1a(got.snapshot_data), Fnv1a(data));
  ASSERT_EQ(got.received.size(), 1u);
  EXPECT_EQ(got.received[0].type(), raftpb::MSG_INSTALL_SNAPSHOT);
  EXPECT_EQ(got.received[0].snapshot().metadata().index(), 42u);
}

// The receiver's sink fails (disk full): the sender hears ok=false, and the
// receiver never hands the snapshot message to Raft.
TEST(PeerSnapshotTest, FailingSinkReportsFailure) {
  Member m1(1), m2(2);
  Connect({&m1, &m2});
  m2.handler().set_fail_sink_write(true);
  m1.transport().SendSnapshot(
      SnapshotMsg(1, 2),
      std::make_unique<StringSource>(RandomBytes(3 << 20, 1), 1 << 20));
  ASSERT_TRUE(m1.handler().WaitUntil(Reported));
  EXPECT_EQ(m1.handler().state().snapshot_reports,
            (std::vector<std::pair<uint64_t, bool>>{{2, false}}));
  EXPECT_FALSE(m2.handler().state().snapshot_finished);
  EXPECT_TRUE(m2.handler().state().received.empty());
}

// The sender's source fails mid-way: the stream is cancelled, the
// receiver does not finish a partial copy, the sender reports ok=false.
TEST(PeerSnapshotTest, FailingSourceReportsFailureAndNothingInstalls) {
  Member m1(1), m2(2);
  Connect({&m1, &m2});
  m1.transport().SendSnapshot(
      SnapshotMsg(1, 2),
      std::make_unique<StringSource>(RandomBytes(4 << 20, 2), 512 << 10,
                                     /*fail_after=*/5));
  ASSERT_TRUE(m1.handler().WaitUntil(Reported));
  EXPECT_FALSE(m1.handler().state().snapshot_reports[0].second);
  EXPECT_FALSE(m2.handler().state().snapshot_finished);
  EXPECT_TRUE(m2.handler().state().received.empty());
}

// A dead or unknown peer fails promptly instead of hanging.
TEST(PeerSnapshotTest, DeadOrUnknownPeerReportsFailure) {
  Member m1(1);
  m1.transport().AddPeer(2, absl::StrCat("127.0.0.1:", UnusedPort()));
  m1.transport().SendSnapshot(SnapshotMsg(1, 2),
                              std::make_unique<StringSource>("abc", 1));
  m1.transport().SendSnapshot(SnapshotMsg(1, 9),
                              std::make_unique<StringSource>("abc", 1));
  ASSERT_TRUE(m1.handler().WaitUntil(
      [](const State& s) { return s.snapshot_reports.size() == 2; }));
  for (const auto& [id, ok] : m1.handler().state().snapshot_reports) {
    EXPECT_FALSE(ok) << "peer " << id;
  }
}

// An empty snapshot is one chunk, carrying the message, marked last.
TEST(SnapshotChunkerTest, SlicesAtMaxBytesAndMarksLast) {
  for (size_t total : {0, 1, 9, 10, 11, 35}) {
    StringSource source(std::string(total, 'x'), 3);
    SnapshotChunker chunker(&source, 10);
    std::vector<size_t> sizes;
    bool last = false;
    while (!last) {
      std::string data;
      ASSERT_TRUE(chunker.Next(&data, &last).ok());
      sizes.push_back(data.size());
    }
    std::vector<size_t> want;
    for (size_t left = total; left > 10; left -= 10) want.push_back(10);
    want.push_back(total == 0 ? 0 : (total - 1) % 10 + 1);
    EXPECT_EQ(sizes, want) << "total=" << total;
  }
}

}  // namespace
}  // namespace raftkv::rpc::testing
