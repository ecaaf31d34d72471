// Issue 6, bar 4: 10,000 leases, each with a key, expiring together. The
// cluster stays writable (an unrelated writer runs throughout and every
// write succeeds; its latency is printed), and the revokes are batched:
// the leader proposes at most 100 revokes per 100 ms tick (etcd's 1000/s),
// so the expiry spreads over about 10 s instead of one burst.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/lease_util.h"
#include "tests/e2e/process_cluster.h"

namespace raftkv::e2e {
namespace {

constexpr int kLeases = 10000;
constexpr int kThreads = 16;
constexpr int64_t kTtl = 20;

absl::Duration Percentile(std::vector<absl::Duration> v, double p) {
  if (v.empty()) return absl::ZeroDuration();
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

int CountPrefix(client::Client& c, const std::string& prefix) {
  etcdserverpb::RangeRequest req;
  req.set_key(prefix);
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  req.set_range_end(end);
  req.set_count_only(true);
  auto r = c.Range(req);
  return r.ok() ? static_cast<int>(r->count()) : -1;
}

TEST(LeaseMassExpiry, TenThousandLeasesExpireTogetherClusterStaysWritable) {
  ClusterOptions options;
  ProcessCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok()) << cluster.Logs();

  // Grant and attach from 16 threads; all are granted within a few seconds,
  // well inside the 20 s TTL, so they expire together.
  const absl::Time start = absl::Now();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto c = cluster.ClientOfAll(absl::Seconds(10));
      for (int i = t; i < kLeases; i += kThreads) {
        auto id = GrantLease(*c, kTtl);
        if (!id.ok() ||
            !PutWithLease(*c, absl::StrCat("mass/", i), "v", *id).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const absl::Time granted = absl::Now();
  ASSERT_EQ(failures.load(), 0);
  std::printf("granted %d leases with keys in %s\n", kLeases,
              absl::FormatDuration(granted - start).c_str());
  ASSERT_LT(granted - start, absl::Seconds(kTtl - 5))
      << "granting too slow for the leases to expire together";

  auto c = cluster.ClientOfAll();
  ASSERT_EQ(CountPrefix(*c, "mass/"), kLeases);

  // An unrelated writer, one put at a time, from before the first expiry
  // until every key is gone.
  std::atomic<bool> stop{false};
  std::vector<absl::Duration> latencies;
  std::vector<absl::Duration> during;
  std::atomic<int> write_errors{0};
  absl::Time first_gone = absl::InfiniteFuture();
  absl::Time all_gone = absl::InfiniteFuture();
  std::atomic<int64_t> expiring_since_ns{0};
  std::thread writer([&] {
    auto wc = cluster.ClientOfAll();
    int n = 0;
    while (!stop) {
      const absl::Time t0 = absl::Now();
      auto r = wc->Put(absl::StrCat("other/", n++ % 100), "x");
      const absl::Duration d = absl::Now() - t0;
      if (!r.ok()) ++write_errors;
      latencies.push_back(d);
      if (expiring_since_ns.load() != 0) during.push_back(d);
      absl::SleepFor(absl::Milliseconds(5));
    }
  });

  // Watch the expiry progress.
  const absl::Time deadline = start + absl::Seconds(kTtl) + absl::Seconds(60);
  int last = kLeases;
  while (absl::Now() < deadline) {
    const int left = CountPrefix(*c, "mass/");
    if (left >= 0 && left < kLeases && first_gone == absl::InfiniteFuture()) {
      first_gone = absl::Now();
      expiring_since_ns = absl::ToUnixNanos(first_gone);
    }
    if (left == 0) {
      all_gone = absl::Now();
      break;
    }
    if (left >= 0) last = left;
    absl::SleepFor(absl::Milliseconds(100));
  }
  stop = true;
  writer.join();
  ASSERT_NE(all_gone, absl::InfiniteFuture()) << last << " keys left\n"
                                              << cluster.Logs(4000);

  const absl::Duration spread = all_gone - first_gone;
  std::printf(
      "mass expiry: first key gone %s after the last grant, all %d gone "
      "%s later (%.0f revokes/s)\n",
      absl::FormatDuration(first_gone - granted).c_str(), kLeases,
      absl::FormatDuration(spread).c_str(),
      kLeases / std::max(0.001, absl::ToDoubleSeconds(spread)));
  std::printf(
      "unrelated writes during expiry: n=%zu p50=%s p99=%s max=%s; "
      "overall n=%zu p50=%s errors=%d\n",
      during.size(), absl::FormatDuration(Percentile(during, 0.5)).c_str(),
      absl::FormatDuration(Percentile(during, 0.99)).c_str(),
      absl::FormatDuration(Percentile(during, 1.0)).c_str(), latencies.size(),
      absl::FormatDuration(Percentile(latencies, 0.5)).c_str(),
      write_errors.load());

  // Writable throughout: no failed write, none slower than 2 s.
  EXPECT_EQ(write_errors.load(), 0);
  EXPECT_GT(during.size(), 10u);
  EXPECT_LT(Percentile(during, 1.0), absl::Seconds(2));
  // Batched (rate-limited): 10,000 revokes at <= 1000/s take >= ~9 s,
  // rather than one burst.
  EXPECT_GE(spread, absl::Seconds(8));
  // No lease remains.
  grpc::ClientContext ctx;
  c->PrepareContext(ctx, absl::Seconds(5));
  etcdserverpb::LeaseLeasesResponse leases;
  ASSERT_TRUE(
      c->lease()
          .LeaseLeases(&ctx, etcdserverpb::LeaseLeasesRequest(), &leases)
          .ok());
  EXPECT_EQ(leases.leases_size(), 0);
}

}  // namespace
}  // namespace raftkv::e2e
