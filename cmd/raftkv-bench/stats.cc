// Latency statistics; see stats.h.
#include "cmd/raftkv-bench/stats.h"

#include <algorithm>
#include <cmath>

namespace raftkv::bench {

absl::Duration Percentile(const std::vector<absl::Duration>& sorted, double p) {
  const double n = static_cast<double>(sorted.size());
  // The 1e-9 keeps p = 99.9 of 1000 samples at rank 999 despite rounding.
  int64_t rank = static_cast<int64_t>(std::ceil(p / 100.0 * n - 1e-9));
  rank = std::clamp<int64_t>(rank, 1, static_cast<int64_t>(sorted.size()));
  return sorted[rank - 1];
}

namespace {

// The 1-2-5 series from 10us to 100s.
std::vector<absl::Duration> BucketBounds() {
  std::vector<absl::Duration> bounds;
  for (absl::Duration decade = absl::Microseconds(10);
       decade <= absl::Seconds(100); decade *= 10) {
    for (int m : {1, 2, 5}) {
      if (decade * m > absl::Seconds(100)) break;
      bounds.push_back(decade * m);
    }
  }
  bounds.push_back(absl::InfiniteDuration());
  return bounds;
}

}  // namespace

std::vector<Bucket> Histogram(const std::vector<absl::Duration>& sorted) {
  std::vector<Bucket> buckets;
  for (absl::Duration bound : BucketBounds()) buckets.push_back({bound, 0});
  size_t b = 0;
  for (absl::Duration d : sorted) {
    while (d > buckets[b].upper) ++b;
    ++buckets[b].count;
  }
  auto nonempty = [](const Bucket& x) { return x.count > 0; };
  auto first = std::find_if(buckets.begin(), buckets.end(), nonempty);
  if (first == buckets.end()) return {};
  auto last = std::find_if(buckets.rbegin(), buckets.rend(), nonempty).base();
  return std::vector<Bucket>(first, last);
}

Summary Summarize(std::string name, std::vector<absl::Duration> latencies,
                  int64_t errors, absl::Duration elapsed) {
  Summary s;
  s.name = std::move(name);
  s.requests = static_cast<int64_t>(latencies.size());
  s.errors = errors;
  s.elapsed = elapsed;
  if (elapsed > absl::ZeroDuration()) {
    s.throughput =
        static_cast<double>(s.requests) / absl::ToDoubleSeconds(elapsed);
  }
  if (latencies.empty()) return s;
  std::sort(latencies.begin(), latencies.end());
  absl::Duration sum;
  for (absl::Duration d : latencies) sum += d;
  s.min = latencies.front();
  s.mean = sum / s.requests;
  s.p50 = Percentile(latencies, 50);
  s.p90 = Percentile(latencies, 90);
  s.p99 = Percentile(latencies, 99);
  s.p999 = Percentile(latencies, 99.9);
  s.max = latencies.back();
  s.histogram = Histogram(latencies);
  return s;
}

}  // namespace raftkv::bench
