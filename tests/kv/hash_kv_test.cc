// MvccStore::HashKV: equal histories hash equal however far physical
// compaction has got; any difference in a visible version changes the hash;
// etcd's errors for compacted and future revisions.
#include <gtest/gtest.h>

#include <set>

#include "tests/kv/store_harness.h"

namespace raftkv::kv {
namespace {

using testing::StoreHarness;

// Writes the same history to a store: puts, overwrites, a delete, a
// re-create, so that every kind of version appears.
void WriteHistory(StoreHarness& h, const std::string& last_value = "v3") {
  ASSERT_TRUE(h.Put("a", "1").ok());         // rev 2
  ASSERT_TRUE(h.Put("b", "1").ok());         // rev 3
  ASSERT_TRUE(h.Put("a", "2").ok());         // rev 4
  ASSERT_TRUE(h.Delete("b").ok());           // rev 5
  ASSERT_TRUE(h.Put("c", "1").ok());         // rev 6
  ASSERT_TRUE(h.Put("b", "2").ok());         // rev 7
  ASSERT_TRUE(h.Put("a", last_value).ok());  // rev 8
}

uint32_t HashAt(StoreHarness& h, int64_t rev) {
  auto r = h.store().HashKV(rev);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->hash : 0;
}

void CompactFully(StoreHarness& h) {
  for (int i = 0; i < 100; ++i) {
    auto done = h.store().CompactStep(1000);
    ASSERT_TRUE(done.ok()) << done.status();
    if (*done) return;
  }
  FAIL() << "physical compaction did not finish";
}

TEST(HashKvTest, SameHistorySameHashAtEveryRevision) {
  StoreHarness x, y;
  WriteHistory(x);
  WriteHistory(y);
  for (int64_t rev = 1; rev <= 8; ++rev) {
    EXPECT_EQ(HashAt(x, rev), HashAt(y, rev)) << "rev " << rev;
  }
  auto r = x.store().HashKV(0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->hash_revision, 8);
  EXPECT_EQ(r->revision, 8);
  EXPECT_EQ(r->hash, HashAt(x, 8));
}

TEST(HashKvTest, EveryRevisionHashesDifferently) {
  StoreHarness h;
  WriteHistory(h);
  std::set<uint32_t> seen;
  for (int64_t rev = 1; rev <= 8; ++rev) seen.insert(HashAt(h, rev));
  EXPECT_EQ(seen.size(), 8u);
}

TEST(HashKvTest, OneDifferentValueChangesTheHash) {
  StoreHarness x, y;
  WriteHistory(x, "v3");
  WriteHistory(y, "v4");
  EXPECT_EQ(HashAt(x, 7), HashAt(y, 7));
  EXPECT_NE(HashAt(x, 8), HashAt(y, 8));
}

TEST(HashKvTest, PhysicalCompactionProgressDoesNotMatter) {
  StoreHarness lagging, compacted;
  for (StoreHarness* h : {&lagging, &compacted}) {
    WriteHistory(*h);
    ASSERT_TRUE(h->Compact(6).ok());  // rev stays 8
  }
  CompactFully(compacted);
  // `lagging` still holds the compacted versions physically.
  for (int64_t rev = 7; rev <= 8; ++rev) {
    EXPECT_EQ(HashAt(lagging, rev), HashAt(compacted, rev)) << "rev " << rev;
  }
  EXPECT_EQ(HashAt(lagging, 0), HashAt(compacted, 0));
}

TEST(HashKvTest, KeyDeletedBeforeTheCompactRevisionLeavesNoTrace) {
  StoreHarness lagging, compacted;
  for (StoreHarness* h : {&lagging, &compacted}) {
    ASSERT_TRUE(h->Put("a", "1").ok());  // rev 2
    ASSERT_TRUE(h->Put("d", "1").ok());  // rev 3
    ASSERT_TRUE(h->Delete("d").ok());    // rev 4: d's newest is a tombstone
    ASSERT_TRUE(h->Put("a", "2").ok());  // rev 5
    ASSERT_TRUE(h->Put("e", "1").ok());  // rev 6
    ASSERT_TRUE(h->Compact(5).ok());
  }
  CompactFully(compacted);
  EXPECT_EQ(HashAt(lagging, 6), HashAt(compacted, 6));
}

TEST(HashKvTest, CompactionDropsOnlyWhatReadsCanNoLongerSee) {
  // After a compaction at 6 only what a read at >= 6 can see counts.
  StoreHarness full;
  WriteHistory(full);
  ASSERT_TRUE(full.Compact(6).ok());
  CompactFully(full);
  auto f = full.store().HashKV(8);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->compact_revision, 6);
  // Changing a version that survives compaction changes the hash...
  StoreHarness other;
  WriteHistory(other);
  ASSERT_TRUE(other.Compact(6).ok());
  EXPECT_EQ(HashAt(other, 8), f->hash);
  StoreHarness changed;
  ASSERT_TRUE(changed.Put("a", "1").ok());
  ASSERT_TRUE(changed.Put("b", "1").ok());
  ASSERT_TRUE(changed.Put("a", "2-changed").ok());  // survives at 6
  ASSERT_TRUE(changed.Delete("b").ok());
  ASSERT_TRUE(changed.Put("c", "1").ok());
  ASSERT_TRUE(changed.Put("b", "2").ok());
  ASSERT_TRUE(changed.Put("a", "v3").ok());
  ASSERT_TRUE(changed.Compact(6).ok());
  EXPECT_NE(HashAt(changed, 7), HashAt(full, 7));
  // ...but changing one that compaction removed does not.
  StoreHarness removed;
  ASSERT_TRUE(removed.Put("a", "1-changed").ok());  // gone at 6
  ASSERT_TRUE(removed.Put("b", "1").ok());
  ASSERT_TRUE(removed.Put("a", "2").ok());
  ASSERT_TRUE(removed.Delete("b").ok());
  ASSERT_TRUE(removed.Put("c", "1").ok());
  ASSERT_TRUE(removed.Put("b", "2").ok());
  ASSERT_TRUE(removed.Put("a", "v3").ok());
  ASSERT_TRUE(removed.Compact(6).ok());
  EXPECT_EQ(HashAt(removed, 8), HashAt(full, 8));
}

TEST(HashKvTest, CompactedAndFutureRevisionsAreEtcdsErrors) {
  StoreHarness h;
  WriteHistory(h);
  ASSERT_TRUE(h.Compact(5).ok());
  auto compacted = h.store().HashKV(5);
  ASSERT_FALSE(compacted.ok());
  EXPECT_EQ(compacted.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(compacted.status().message(),
            "etcdserver: mvcc: required revision has been compacted");
  auto future = h.store().HashKV(10);
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.status().message(),
            "etcdserver: mvcc: required revision is a future revision");
  EXPECT_TRUE(h.store().HashKV(6).ok());
}

TEST(HashKvTest, SurvivesReopen) {
  StoreHarness h;
  WriteHistory(h);
  const uint32_t before = HashAt(h, 0);
  h.Reopen();
  EXPECT_EQ(HashAt(h, 0), before);
}

}  // namespace
}  // namespace raftkv::kv
