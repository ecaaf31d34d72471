// Storage semantics of DurableLog: appends, conflicting overwrites (also
// across segments), bounds errors, hard state, snapshots, compaction and
// segment release, and that a reopen restores the same state.
#include "raft/wal/durable_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/wal/test_util.h"

namespace raftkv::raft::wal::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::Pointwise;

MATCHER(ProtoEq, "") {
  return std::get<0>(arg).SerializeAsString() ==
         std::get<1>(arg).SerializeAsString();
}

class DurableLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<DurableLog> Open() { return MustOpen(&env_, options_); }
  void Reopen() {
    log_.reset();
    log_ = Open();
    ASSERT_NE(log_, nullptr);
  }
  void SetUp() override { log_ = Open(); }

  FaultEnv env_;
  Options options_{.segment_bytes = 1024};
  std::unique_ptr<DurableLog> log_;
};

TEST_F(DurableLogTest, EmptyLog) {
  EXPECT_EQ(log_->FirstIndex(), 1u);
  EXPECT_EQ(log_->LastIndex(), 0u);
  EXPECT_EQ(*log_->Term(0), 0u);
  EXPECT_TRUE(raft::IsEntryUnavailable(log_->Term(1).status()));
  EXPECT_TRUE(log_->Entries(1, 1, kNoLimit)->empty());
  EXPECT_TRUE(raft::IsEntryUnavailable(log_->Entries(1, 2, kNoLimit).status()));
  EXPECT_EQ(log_->GetSnapshot()->metadata().index(), 0u);
  EXPECT_EQ(Segments(env_).size(), 1u);
}

TEST_F(DurableLogTest, AppendAndRead) {
  auto entries = MakeEntries(1, 6, 1);
  ASSERT_TRUE(log_->Save(nullptr, entries, true).ok());
  EXPECT_EQ(log_->LastIndex(), 5u);
  EXPECT_EQ(*log_->Term(5), 1u);
  EXPECT_THAT(*log_->Entries(1, 6, kNoLimit), Pointwise(ProtoEq(), entries));
  EXPECT_THAT(*log_->Entries(2, 4, kNoLimit),
              Pointwise(ProtoEq(), MakeEntries(2, 4, 1)));
  EXPECT_TRUE(raft::IsEntryUnavailable(log_->Entries(1, 7, kNoLimit).status()));
  EXPECT_TRUE(raft::IsEntryUnavailable(log_->Term(6).status()));
}

TEST_F(DurableLogTest, MaxBytesReturnsAtLeastOneEntry) {
  auto entries = MakeEntries(1, 6, 1);
  ASSERT_TRUE(log_->Save(nullptr, entries, true).ok());
  const uint64_t one = entries[0].ByteSizeLong();
  EXPECT_EQ(log_->Entries(1, 6, 0)->size(), 1u);
  EXPECT_EQ(log_->Entries(1, 6, one)->size(), 1u);
  EXPECT_EQ(log_->Entries(1, 6, 2 * one)->size(), 2u);
  EXPECT_EQ(log_->Entries(1, 6, 3 * one - 1)->size(), 2u);
}

TEST_F(DurableLogTest, ConflictingSuffixIsOverwritten) {
  ASSERT_TRUE(log_->Save(nullptr, MakeEntries(1, 6, 1), true).ok());
  ASSERT_TRUE(log_->Save(nullptr, MakeEntries(3, 5, 2), true).ok());
  EXPECT_EQ(log_->LastIndex(), 4u);
  EXPECT_EQ(*log_->Term(2), 1u);
  EXPECT_EQ(*log_->Term(3), 2u);
  Reopen();
  EXPECT_EQ(log_->LastIndex(), 4u);
  EXPECT_EQ(*log_->Term(4), 2u);
  auto want = MakeEntries(1, 3, 1);
  for (const Entry& e : MakeEntries(3, 5, 2)) want.push_back(e);
  EXPECT_THAT(AllEntries(*log_), Pointwise(ProtoEq(), want));
}

TEST_F(DurableLogTest, OverwriteAcrossSegmentBoundary) {
  // 100-byte payloads: about 8 entries per 1 KiB segment.
  for (uint64_t i = 1; i <= 40; ++i) {
    ASSERT_TRUE(log_->Save(nullptr, {MakeEntry(i, 1, 100)}, true).ok());
  }
  ASSERT_GE(Segments(env_).size(), 4u);
  // Overwrite from index 5 (in the first segment) on.
  ASSERT_TRUE(log_->Save(nullptr, MakeEntries(5, 12, 3, 100), true).ok());
  EXPECT_EQ(log_->LastIndex(), 11u);
  auto want = MakeEntries(1, 5, 1, 100);
  for (const Entry& e : MakeEntries(5, 12, 3, 100)) want.push_back(e);
  EXPECT_THAT(AllEntries(*log_), Pointwise(ProtoEq(), want));
  Reopen();
  EXPECT_EQ(log_->LastIndex(), 11u);
  EXPECT_THAT(AllEntries(*log_), Pointwise(ProtoEq(), want));
}

TEST_F(DurableLogTest, HardStatePersists) {
  HardState hs;
  hs.set_current_term(7);
  hs.set_voted_for(3);
  hs.set_commit_index(2);
  ASSERT_TRUE(log_->Save(&hs, MakeEntries(1, 4, 7), true).ok());
  Reopen();
  EXPECT_THAT(log_->GetInitialState()->hard_state, EqualsProto(hs));
  EXPECT_THAT(log_->hard_state(), EqualsProto(hs));
}

TEST_F(DurableLogTest, CompactAndErrCompacted) {
  ASSERT_TRUE(log_->Save(nullptr, MakeEntries(1, 11, 2), true).ok());
  ConfState cs;
  cs.add_voters(1);
  cs.add_voters(2);
  ASSERT_TRUE(log_->CreateSnapshot(4, cs).ok());
  EXPECT_EQ(log_->FirstIndex(), 5u);
  EXPECT_EQ(*log_->Term(4), 2u);
  EXPECT_TRUE(raft::IsCompacted(log_->Term(3).status()));
  EXPECT_TRUE(raft::IsCompacted(log_->Entries(4, 6, kNoLimit).status()));
  EXPECT_TRUE(raft::IsCompacted(log_->CreateSnapshot(4, cs)));
  EXPECT_TRUE(absl::IsInvalidArgument(log_->Compact(11)));
  ASSERT_TRUE(log_->Compact(6).ok());
  EXPECT_EQ(log_->FirstIndex(), 7u);
  Reopen();
  EXPECT_EQ(log_->FirstIndex(), 7u);
  EXPECT_EQ(log_->LastIndex(), 10u);
  EXPECT_EQ(log_->GetSnapshot()->metadata().index(), 6u);
  EXPECT_THAT(log_->GetInitialState()->conf_state, EqualsProto(cs));
  EXPECT_THAT(AllEntries(*log_), Pointwise(ProtoEq(), MakeEntries(7, 11, 2)));
}

TEST_F(DurableLogTest, CompactionReleasesOldSegments) {
  for (uint64_t i = 1; i <= 60; ++i) {
    ASSERT_TRUE(log_->Save(nullptr, {MakeEntry(i, 1, 100)}, true).ok());
  }
  const auto before = Segments(env_);
  ASSERT_GE(before.size(), 6u);
  ASSERT_TRUE(log_->Compact(50).ok());
  const auto after = Segments(env_);
  EXPECT_LE(after.size(), 3u);
  EXPECT_EQ(after.back(), before.back());
  EXPECT_FALSE(env_.Exists(before.front()));
  // The segment holding entry 51 survives, with everything after it.
  EXPECT_THAT(AllEntries(*log_),
              Pointwise(ProtoEq(), MakeEntries(51, 61, 1, 100)));
  Reopen();
  EXPECT_EQ(log_->FirstIndex(), 51u);
  EXPECT_EQ(*log_->Term(50), 1u);
  EXPECT_THAT(AllEntries(*log_),
              Pointwise(ProtoEq(), MakeEntries(51, 61, 1, 100)));
}

TEST_F(DurableLogTest, LeaderSnapshotReplacesLog) {
  ASSERT_TRUE(log_->Save(nullptr, MakeEntries(1, 30, 1, 100), true).ok());
  raftpb::SnapshotMetadata meta;
  meta.set_index(20);
  meta.set_term(4);
  meta.mutable_conf_state()->add_voters(9);
  ASSERT_TRUE(log_->ApplySnapshot(meta, /*sync=*/false).ok());
  ASSERT_TRUE(log_->Save(nullptr, MakeEntries(21, 23, 4), true).ok());
  EXPECT_EQ(log_->FirstIndex(), 21u);
  EXPECT_EQ(log_->LastIndex(), 22u);
  EXPECT_EQ(*log_->Term(20), 4u);
  EXPECT_EQ(Segments(env_).size(), 1u);  // older segments released
  EXPECT_TRUE(raft::IsCompacted(log_->ApplySnapshot(meta, true)));
  Reopen();
  EXPECT_EQ(log_->FirstIndex(), 21u);
  EXPECT_EQ(log_->LastIndex(), 22u);
  EXPECT_THAT(log_->GetSnapshot()->metadata(), EqualsProto(meta));
  EXPECT_THAT(AllEntries(*log_), Pointwise(ProtoEq(), MakeEntries(21, 23, 4)));
}

TEST_F(DurableLogTest, EntriesBelowSnapshotAreIgnored) {
  ASSERT_TRUE(log_->Save(nullptr, MakeEntries(1, 6, 1), true).ok());
  ASSERT_TRUE(log_->Compact(3).ok());
  ASSERT_TRUE(log_->Save(nullptr, MakeEntries(2, 8, 1), true).ok());
  EXPECT_EQ(log_->FirstIndex(), 4u);
  EXPECT_EQ(log_->LastIndex(), 7u);
}

TEST_F(DurableLogTest, SetConfStatePersists) {
  ConfState cs;
  cs.add_voters(1);
  cs.add_learners(4);
  ASSERT_TRUE(log_->SetConfState(cs).ok());
  Reopen();
  EXPECT_THAT(log_->GetInitialState()->conf_state, EqualsProto(cs));
}

TEST_F(DurableLogTest, GroupCommitSyncsOncePerSave) {
  const int before = env_.sync_count();
  ASSERT_TRUE(log_->Save(nullptr, MakeEntries(1, 6, 1), true).ok());
  EXPECT_EQ(env_.sync_count(), before + 1);
  ASSERT_TRUE(log_->Save(nullptr, MakeEntries(6, 8, 1), false).ok());
  EXPECT_EQ(env_.sync_count(), before + 1);
}

TEST_F(DurableLogTest, RecordLargerThanSegment) {
  ASSERT_TRUE(log_->Save(nullptr, {MakeEntry(1, 1, 3000)}, true).ok());
  ASSERT_TRUE(log_->Save(nullptr, {MakeEntry(2, 1, 3000)}, true).ok());
  Reopen();
  EXPECT_THAT(AllEntries(*log_),
              Pointwise(ProtoEq(), MakeEntries(1, 3, 1, 3000)));
}

}  // namespace
}  // namespace raftkv::raft::wal::testing
