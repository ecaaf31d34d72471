// Recovery claims of DurableLog (durable_log.h, top of file), each proved
// through FaultEnv: torn tails are truncated, corruption elsewhere fails Open
// with DataLoss naming file and offset, an interrupted roll-over recovers,
// and a failed write or sync fails closed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "raft/wal/durable_log.h"
#include "raft/wal/record.h"
#include "tests/wal/test_util.h"

namespace raftkv::raft::wal::testing {
namespace {

using ::testing::HasSubstr;

struct Span {
  uint64_t offset;
  uint64_t end;
};

// The valid records of a segment file, in order.
std::vector<Span> RecordsOf(const std::string& contents) {
  std::vector<Span> out;
  Record record;
  uint64_t offset = 0;
  while (ParseRecordAt(contents, offset, &record)) {
    uint64_t end = offset + kHeaderSize + record.payload.size();
    out.push_back({offset, end});
    offset = end;
  }
  return out;
}

class RecoveryTest : public ::testing::Test {
 protected:
  // Writes entries 1..n (one synced Save each, with a hard state) into small
  // segments and closes the log.
  void WriteLog(uint64_t n) {
    auto log = MustOpen(&env_, options_);
    ASSERT_NE(log, nullptr);
    for (uint64_t i = 1; i <= n; ++i) {
      HardState hs;
      hs.set_current_term(1);
      hs.set_commit_index(i - 1);
      ASSERT_TRUE(log->Save(&hs, {MakeEntry(i, 1, 40)}, true).ok());
    }
  }

  // Opens the log and expects exactly entries 1..n.
  void ExpectEntries(uint64_t n) {
    auto log = MustOpen(&env_, options_);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->LastIndex(), n);
    auto got = AllEntries(*log);
    ASSERT_EQ(got.size(), n);
    for (uint64_t i = 1; i <= n; ++i) {
      EXPECT_THAT(got[i - 1], EqualsProto(MakeEntry(i, 1, 40)));
    }
  }

  FaultEnv env_;
  Options options_{.segment_bytes = 512};
};

// Test 1: the last record cut at every byte → exactly the complete records.
TEST_F(RecoveryTest, TornLastRecordIsTruncatedAtEveryByte) {
  WriteLog(20);
  const std::string last = Segments(env_).back();
  const std::string original = env_.Contents(last);
  const std::vector<Span> records = RecordsOf(original);
  // The last two records are entry 20 and its hard state; cut in both.
  ASSERT_GE(records.size(), 5u);
  const Span entry = records[records.size() - 2];
  const Span hs = records.back();
  for (uint64_t cut = entry.offset; cut < hs.end; ++cut) {
    SCOPED_TRACE(absl::StrCat("cut=", cut));
    const uint64_t want = cut < entry.end ? 19 : 20;
    // A file cut short, and a cut in a preallocated (zero-filled) file.
    env_.SetContents(last, original.substr(0, cut));
    ExpectEntries(want);
    std::string zeroed = original;
    std::fill(zeroed.begin() + static_cast<ptrdiff_t>(cut), zeroed.end(), '\0');
    env_.SetContents(last, zeroed);
    ExpectEntries(want);
  }
}

TEST_F(RecoveryTest, TornTailIsRemovedAndLogAppendsAfterIt) {
  WriteLog(5);
  const std::string last = Segments(env_).back();
  const std::string original = env_.Contents(last);
  const Span tail = RecordsOf(original).back();
  std::string torn = original;
  torn[tail.end - 3] ^= 0x5A;  // bad CRC at the very end
  env_.SetContents(last, torn);
  {
    auto log = MustOpen(&env_, options_);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->LastIndex(), 5u);
    EXPECT_EQ(log->hard_state().commit_index(), 3u);  // last hs was torn
    ASSERT_TRUE(log->Save(nullptr, {MakeEntry(6, 1, 40)}, true).ok());
  }
  ExpectEntries(6);
}

// Test 2: a flipped byte in any record but the last fails Open with
// DataLoss naming the file and the offset of the damaged record.
TEST_F(RecoveryTest, CorruptionBeforeTailFailsOpen) {
  WriteLog(12);
  const std::vector<std::string> segments = Segments(env_);
  ASSERT_GE(segments.size(), 2u);
  int checked = 0;
  for (const std::string& path : segments) {
    const std::string original = env_.Contents(path);
    std::vector<Span> records = RecordsOf(original);
    if (path == segments.back()) records.pop_back();  // that would be torn
    for (const Span& r : records) {
      for (uint64_t at = r.offset; at < r.end; ++at) {
        SCOPED_TRACE(absl::StrCat(path, " byte ", at));
        std::string bad = original;
        bad[at] ^= 0x01;
        env_.SetContents(path, bad);
        auto log = DurableLog::Open(&env_, kDir, options_);
        ASSERT_FALSE(log.ok());
        EXPECT_TRUE(absl::IsDataLoss(log.status())) << log.status();
        EXPECT_THAT(std::string(log.status().message()),
                    HasSubstr(absl::StrCat(path, ": ")));
        EXPECT_THAT(std::string(log.status().message()),
                    HasSubstr(absl::StrCat("at offset ", r.offset)));
        ++checked;
      }
      env_.SetContents(path, original);
    }
  }
  EXPECT_GT(checked, 500);
  ExpectEntries(12);  // the originals are intact
}

TEST_F(RecoveryTest, MissingMiddleSegmentFailsOpen) {
  WriteLog(20);
  const std::vector<std::string> segments = Segments(env_);
  ASSERT_GE(segments.size(), 3u);
  ASSERT_TRUE(env_.Remove(segments[1]).ok());
  auto log = DurableLog::Open(&env_, kDir, options_);
  EXPECT_TRUE(absl::IsDataLoss(log.status())) << log.status();
}

// Test 3: a crash between creating the next segment and renaming it.
TEST_F(RecoveryTest, CrashDuringRollOverRecovers) {
  for (bool power_loss : {false, true}) {
    SCOPED_TRACE(absl::StrCat("power_loss=", power_loss));
    env_ = FaultEnv();
    auto log = MustOpen(&env_, options_);
    ASSERT_NE(log, nullptr);
    uint64_t synced = 0;
    absl::Status s;
    env_.FailNext(FaultEnv::Op::kRename);
    for (uint64_t i = 1; s.ok(); ++i) {
      ASSERT_LT(i, 100u);
      s = log->Save(nullptr, {MakeEntry(i, 1, 40)}, true);
      if (s.ok()) synced = i;
    }
    EXPECT_GE(synced, 3u);
    const size_t tmp_files = env_.ListDir(kDir)->size() - Segments(env_).size();
    EXPECT_EQ(tmp_files, 1u);  // the .tmp segment was created
    if (power_loss) {
      ASSERT_TRUE(env_.SyncDir(kDir).ok());  // the worst case: it survives
      env_.Crash();
    }
    log.reset();
    log = MustOpen(&env_, options_);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(env_.ListDir(kDir)->size(), Segments(env_).size());
    EXPECT_GE(log->LastIndex(), synced);
    // And the log rolls over fine now.
    for (uint64_t i = log->LastIndex() + 1; i <= 30; ++i) {
      ASSERT_TRUE(log->Save(nullptr, {MakeEntry(i, 1, 40)}, true).ok());
    }
    log.reset();
    ExpectEntries(30);
  }
}

// Test 4: injected write / sync failures fail closed.
class FailClosedTest : public RecoveryTest,
                       public ::testing::WithParamInterface<int> {};

TEST_P(FailClosedTest, ErrorReturnedNothingLaterDurable) {
  auto log = MustOpen(&env_, options_);
  ASSERT_NE(log, nullptr);
  for (uint64_t i = 1; i <= 5; ++i) {
    ASSERT_TRUE(log->Save(nullptr, {MakeEntry(i, 1, 40)}, true).ok());
  }
  ASSERT_TRUE(log->Save(nullptr, {MakeEntry(6, 1, 40)}, false).ok());
  switch (GetParam()) {
    case 0:
      env_.FailNext(FaultEnv::Op::kWrite);
      break;
    case 1:
      env_.FailNext(FaultEnv::Op::kSync);
      break;
    case 2:
      env_.TearNextWrite(20);
      break;
  }
  absl::Status s = log->Save(nullptr, MakeEntries(7, 9, 1, 40), true);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(log->status().ok());
  EXPECT_EQ(log->LastIndex(), 6u);  // the failed entries are not reported
  // Later writes fail too, although the Env works again.
  EXPECT_FALSE(log->Save(nullptr, {MakeEntry(7, 1, 40)}, true).ok());
  EXPECT_FALSE(log->Sync().ok());
  EXPECT_FALSE(log->Compact(3).ok());
  EXPECT_EQ(log->LastIndex(), 6u);
  // After a power loss only synced data is there: 1..5 (6 was never synced).
  env_.Crash();
  log.reset();
  ExpectEntries(5);
}

INSTANTIATE_TEST_SUITE_P(WriteSyncTear, FailClosedTest,
                         ::testing::Values(0, 1, 2));

TEST_F(RecoveryTest, UnsyncedWritesAreLostInACrash) {
  {
    auto log = MustOpen(&env_, options_);
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(log->Save(nullptr, MakeEntries(1, 4, 1, 40), true).ok());
    // Small enough not to roll over (a roll-over syncs the old segment).
    ASSERT_TRUE(log->Save(nullptr, MakeEntries(4, 7, 1, 40), false).ok());
  }
  env_.Crash();
  ExpectEntries(3);
}

TEST_F(RecoveryTest, TornWriteWithoutCrashKeepsCompleteRecords) {
  auto log = MustOpen(&env_, options_);
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->Save(nullptr, MakeEntries(1, 3, 1, 40), true).ok());
  // The process dies after the first record and part of the second of a
  // batch reached the page cache; the OS keeps them.
  const size_t record = kHeaderSize + MakeEntry(3, 1, 40).ByteSizeLong();
  env_.TearNextWrite(record + 7);
  EXPECT_FALSE(log->Save(nullptr, MakeEntries(3, 5, 1, 40), true).ok());
  log.reset();
  ExpectEntries(3);
}

}  // namespace
}  // namespace raftkv::raft::wal::testing
