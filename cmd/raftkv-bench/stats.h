// Latency statistics for raftkv-bench: exact percentiles over every recorded
// sample, and a logarithmic histogram for the text report.
//
// Percentiles use the nearest-rank definition: the p-th percentile of n
// sorted samples is sample number ceil(p / 100 * n) (1-based), so p100 is the
// maximum and every reported value is a latency that really occurred.
#ifndef RAFTKV_CMD_RAFTKV_BENCH_STATS_H_
#define RAFTKV_CMD_RAFTKV_BENCH_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace raftkv::bench {

// REQUIRES: `sorted` is ascending and non-empty; 0 < p <= 100.
absl::Duration Percentile(const std::vector<absl::Duration>& sorted, double p);

// One histogram bucket: samples in (previous bucket's upper, upper].
struct Bucket {
  absl::Duration upper;
  int64_t count = 0;
};

// Counts `sorted` into buckets whose upper bounds follow the 1-2-5 series
// (10us, 20us, 50us, 100us, ... 100s); the last bucket is +infinity. Leading
// and trailing empty buckets are dropped; empty input gives no buckets.
// REQUIRES: `sorted` is ascending.
std::vector<Bucket> Histogram(const std::vector<absl::Duration>& sorted);

// The statistics of one run (or of one kind of operation in a mixed run).
struct Summary {
  std::string name;      // "put", "range", ...
  int64_t requests = 0;  // completed successfully
  int64_t errors = 0;
  absl::Duration elapsed;  // wall time of the whole run
  double throughput = 0;   // successful requests per second
  absl::Duration min, mean, p50, p90, p99, p999, max;
  std::vector<Bucket> histogram;
};

// Builds a Summary from every successful request's latency (any order).
Summary Summarize(std::string name, std::vector<absl::Duration> latencies,
                  int64_t errors, absl::Duration elapsed);

}  // namespace raftkv::bench

#endif  // RAFTKV_CMD_RAFTKV_BENCH_STATS_H_
