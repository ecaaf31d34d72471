// A Range with a limit must not scale with the size of the store: it decodes
// at most limit+1 values, and its index work follows the keys in the range
// (which etcd's `count` needs), never the keys outside it. Measured through
// the ReadStats seam (iterator steps and decoded values), not by timing.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/kv/store_harness.h"

namespace raftkv::kv::testing {
namespace {

// Fills the store with `n` keys "k/%07d" and 100 keys "p/%03d".
void Fill(StoreHarness* h, int n) {
  std::vector<etcdserverpb::PutRequest> puts;
  auto flush = [&] {
    std::vector<ApplyCommand> cmds;
    uint64_t index = h->store().applied_index();
    for (const auto& p : puts) cmds.push_back({++index, &p});
    ASSERT_TRUE(h->store().Apply(cmds).ok());
    puts.clear();
  };
  char key[32];
  for (int i = 0; i < n; ++i) {
    std::snprintf(key, sizeof(key), "k/%07d", i);
    auto& p = puts.emplace_back();
    p.set_key(key);
    p.set_value("v");
    if (puts.size() == 1000) flush();
  }
  for (int i = 0; i < 100; ++i) {
    std::snprintf(key, sizeof(key), "p/%03d", i);
    auto& p = puts.emplace_back();
    p.set_key(key);
    p.set_value("value");
  }
  flush();
}

ReadStats RangeStats(MvccStore& store, const std::string& key,
                     const std::string& end, int64_t limit, int64_t rev,
                     int64_t* count) {
  etcdserverpb::RangeRequest req;
  req.set_key(key);
  req.set_range_end(end);
  req.set_limit(limit);
  req.set_revision(rev);
  ReadStats stats;
  auto r = store.Range(req, &stats);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kvs_size(), limit);
  EXPECT_TRUE(r->more());
  *count = r->count();
  return stats;
}

TEST(RangeScaleTest, LimitedRangeWorkDoesNotGrowWithStoreSize) {
  StoreHarness small, big;
  Fill(&small, 2000);
  Fill(&big, 200000);
  int64_t small_count = 0, big_count = 0;
  // A prefix range of 100 keys with limit 10, at the latest revision and at
  // an older one (history path).
  for (bool old : {false, true}) {
    int64_t small_rev = old ? small.store().revision() - 50 : 0;
    int64_t big_rev = old ? big.store().revision() - 50 : 0;
    ReadStats s =
        RangeStats(small.store(), "p/", "p0", 10, small_rev, &small_count);
    ReadStats b = RangeStats(big.store(), "p/", "p0", 10, big_rev, &big_count);
    EXPECT_EQ(small_count, old ? 50 : 100);
    EXPECT_EQ(big_count, small_count);
    EXPECT_EQ(b.values_decoded, 11);  // limit + 1, to learn `more`
    EXPECT_EQ(b.index_steps, s.index_steps);
    EXPECT_LE(b.index_steps, 3 * 100 + 20);
  }
  // The whole store with limit 10: values decoded stay at limit+1; the index
  // walk is one step per key, to compute count.
  ReadStats all = RangeStats(big.store(), std::string(1, '\0'),
                             std::string(1, '\0'), 10, 0, &big_count);
  EXPECT_EQ(big_count, 200100);
  EXPECT_EQ(all.values_decoded, 11);
  EXPECT_LE(all.index_steps, 200100 + 20);
}

}  // namespace
}  // namespace raftkv::kv::testing
