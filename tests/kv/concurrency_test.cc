// Readers on other threads while the apply thread writes: every Range sees
// one committed batch in full or not at all (LevelDB snapshot taken together
// with the revisions), and never a revision it cannot serve.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/kv/store_harness.h"

namespace raftkv::kv::testing {
namespace {

TEST(ConcurrencyTest, ReadersSeeWholeBatches) {
  StoreHarness h;
  MvccStore& store = h.store();
  constexpr int kBatches = 2000;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<int64_t> reads{0};

  auto reader = [&] {
    etcdserverpb::RangeRequest req;
    req.set_key("k/");
    req.set_range_end("k0");
    while (!done.load()) {
      auto r = store.Range(req);
      if (!r.ok()) {
        ++torn;
        continue;
      }
      // Each batch writes k/a and k/b with the same value.
      if (r->kvs_size() == 2 && r->kvs(0).value() != r->kvs(1).value()) ++torn;
      for (const auto& kv : r->kvs()) {
        if (kv.mod_revision() > r->header().revision()) ++torn;
      }
      ++reads;
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) readers.emplace_back(reader);

  etcdserverpb::PutRequest a, b;
  a.set_key("k/a");
  b.set_key("k/b");
  for (int i = 0; i < kBatches; ++i) {
    a.set_value(std::to_string(i));
    b.set_value(std::to_string(i));
    uint64_t index = store.applied_index();
    ApplyCommand cmds[] = {{index + 1, &a}, {index + 2, &b}};
    ASSERT_TRUE(store.Apply(cmds).ok());
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store.revision(), 1 + 2 * kBatches);
}

}  // namespace
}  // namespace raftkv::kv::testing
