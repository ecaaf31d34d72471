// Cross-check: random operation sequences applied to DurableLog and to the
// in-memory reference MemoryStorage must leave both with the same log,
// including across reopens and power losses after a sync. Seeded; the seed
// is printed on failure.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "raft/wal/durable_log.h"
#include "raft/wal/record.h"
#include "tests/wal/test_util.h"

namespace raftkv::raft::wal::testing {
namespace {

class ModelTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  void ExpectSame() {
    ASSERT_EQ(log_->FirstIndex(), model_.FirstIndex());
    ASSERT_EQ(log_->LastIndex(), model_.LastIndex());
    for (uint64_t i = log_->FirstIndex() - 1; i <= log_->LastIndex(); ++i) {
      ASSERT_EQ(*log_->Term(i), *model_.Term(i)) << "index=" << i;
    }
    const uint64_t lo = log_->FirstIndex(), hi = log_->LastIndex() + 1;
    const uint64_t max_bytes = rng_() % 400;
    auto got = log_->Entries(lo, hi, max_bytes);
    auto want = model_.Entries(lo, hi, max_bytes);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), want->size());
    for (size_t i = 0; i < got->size(); ++i) {
      ASSERT_THAT((*got)[i], EqualsProto((*want)[i]));
    }
    ASSERT_THAT(log_->hard_state(), EqualsProto(model_.hard_state()));
  }

  void Append() {
    const uint64_t lo = model_.FirstIndex() +
                        rng_() % (model_.LastIndex() - model_.FirstIndex() + 2);
    const uint64_t n = rng_() % 6;
    term_ += rng_() % 2;
    auto entries = MakeEntries(lo, lo + n, term_, rng_() % 120);
    HardState hs;
    hs.set_current_term(term_);
    hs.set_commit_index(rng_() % 100);
    const bool with_hs = rng_() % 2 == 0;
    ASSERT_TRUE(log_->Save(with_hs ? &hs : nullptr, entries, true).ok());
    model_.Append(entries);
    if (with_hs) model_.SetHardState(hs);
  }

  void Snapshot() {
    raftpb::SnapshotMetadata meta;
    meta.set_index(model_.LastIndex() + rng_() % 5 + 1);
    meta.set_term(++term_);
    ASSERT_TRUE(log_->ApplySnapshot(meta, true).ok());
    raftpb::Snapshot snapshot;
    *snapshot.mutable_metadata() = meta;
    ASSERT_TRUE(model_.ApplySnapshot(snapshot).ok());
  }

  void Compact() {
    if (model_.LastIndex() < model_.FirstIndex()) return;
    const uint64_t index =
        model_.FirstIndex() +
        rng_() % (model_.LastIndex() - model_.FirstIndex() + 1);
    ASSERT_TRUE(log_->Compact(index).ok());
    ASSERT_TRUE(model_.Compact(index).ok());
  }

  void Reopen(bool power_loss) {
    log_.reset();
    if (power_loss) env_.Crash();  // every Save synced: nothing is lost
    log_ = MustOpen(&env_, options_);
    ASSERT_NE(log_, nullptr);
  }

  std::mt19937 rng_{GetParam()};
  FaultEnv env_;
  Options options_{.segment_bytes = 700};
  std::unique_ptr<DurableLog> log_ = MustOpen(&env_, options_);
  MemoryStorage model_;
  uint64_t term_ = 1;
};

TEST_P(ModelTest, RandomOperationsMatchMemoryStorage) {
  SCOPED_TRACE(absl::StrCat("seed=", GetParam()));
  for (int step = 0; step < 300; ++step) {
    SCOPED_TRACE(absl::StrCat("step=", step));
    const uint32_t op = rng_() % 100;
    if (op < 70) {
      ASSERT_NO_FATAL_FAILURE(Append());
    } else if (op < 80) {
      ASSERT_NO_FATAL_FAILURE(Compact());
    } else if (op < 84) {
      ASSERT_NO_FATAL_FAILURE(Snapshot());
    } else {
      ASSERT_NO_FATAL_FAILURE(Reopen(/*power_loss=*/op < 92));
    }
    ASSERT_NO_FATAL_FAILURE(ExpectSame());
  }
}

// Segments wholly below the snapshot are released: the oldest segment file
// holds the first entry still held (or it is the only one).
TEST_P(ModelTest, OldestSegmentHoldsFirstIndex) {
  SCOPED_TRACE(absl::StrCat("seed=", GetParam()));
  for (int step = 0; step < 200; ++step) {
    ASSERT_NO_FATAL_FAILURE(rng_() % 4 == 0 ? Compact() : Append());
    const std::vector<std::string> segments = Segments(env_);
    if (model_.LastIndex() < model_.FirstIndex()) {
      EXPECT_EQ(segments.size(), 1u);
      continue;
    }
    const std::string oldest = env_.Contents(segments.front());
    bool found = false;
    Record record;
    for (uint64_t at = 0; ParseRecordAt(oldest, at, &record);
         at += kHeaderSize + record.payload.size()) {
      Entry e;
      found |= record.type == RecordType::kEntry &&
               e.ParseFromArray(record.payload.data(),
                                static_cast<int>(record.payload.size())) &&
               e.index() == model_.FirstIndex();
    }
    ASSERT_TRUE(found) << "step=" << step << " first=" << model_.FirstIndex()
                       << " segments=" << segments.size();
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, ModelTest, ::testing::Range(1u, 21u));

}  // namespace
}  // namespace raftkv::raft::wal::testing
