// Reports; see report.h.
#include "cmd/raftkv-bench/report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace raftkv::bench {
namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

constexpr int kBarWidth = 40;

}  // namespace

std::string FormatText(const Summary& s) {
  std::string out = absl::StrFormat(
      "Summary (%s):\n"
      "  Requests:     %d ok, %d errors\n"
      "  Total:        %.4f s\n"
      "  Throughput:   %.1f req/s\n",
      s.name, s.requests, s.errors, absl::ToDoubleSeconds(s.elapsed),
      s.throughput);
  if (s.requests == 0) return out;
  absl::StrAppendFormat(&out,
                        "  Latency (ms): min %.3f  mean %.3f\n"
                        "                p50 %.3f  p90 %.3f  p99 %.3f  "
                        "p99.9 %.3f  max %.3f\n",
                        Ms(s.min), Ms(s.mean), Ms(s.p50), Ms(s.p90), Ms(s.p99),
                        Ms(s.p999), Ms(s.max));
  int64_t most = 0;
  for (const Bucket& b : s.histogram) most = std::max(most, b.count);
  absl::StrAppend(&out, "\nResponse time histogram (ms):\n");
  for (const Bucket& b : s.histogram) {
    const std::string bound = b.upper == absl::InfiniteDuration()
                                  ? std::string("     inf")
                                  : absl::StrFormat("%8.2f", Ms(b.upper));
    const int bar =
        most == 0 ? 0
                  : static_cast<int>((b.count * kBarWidth + most - 1) / most);
    absl::StrAppendFormat(&out, "  <= %s [%8d] |%s\n", bound, b.count,
                          std::string(bar, '*'));
  }
  return out;
}

std::string SummaryJson(const Summary& s) {
  std::vector<std::string> buckets;
  for (const Bucket& b : s.histogram) {
    buckets.push_back(absl::StrFormat("{\"le_ms\":%s,\"count\":%d}",
                                      b.upper == absl::InfiniteDuration()
                                          ? std::string("null")
                                          : absl::StrFormat("%g", Ms(b.upper)),
                                      b.count));
  }
  return absl::StrFormat(
      "{\"name\":\"%s\",\"requests\":%d,\"errors\":%d,\"elapsed_s\":%.6f,"
      "\"throughput\":%.3f,\"latency_ms\":{\"min\":%.6f,\"mean\":%.6f,"
      "\"p50\":%.6f,\"p90\":%.6f,\"p99\":%.6f,\"p99.9\":%.6f,\"max\":%.6f},"
      "\"histogram\":[%s]}",
      s.name, s.requests, s.errors, absl::ToDoubleSeconds(s.elapsed),
      s.throughput, Ms(s.min), Ms(s.mean), Ms(s.p50), Ms(s.p90), Ms(s.p99),
      Ms(s.p999), Ms(s.max), absl::StrJoin(buckets, ","));
}

std::string FormatJson(const std::string& workload, const Summary& total,
                       const std::vector<Summary>& by_op) {
  std::vector<std::string> ops;
  for (const Summary& s : by_op) ops.push_back(SummaryJson(s));
  return absl::StrCat("{\"workload\":\"", workload,
                      "\",\"total\":", SummaryJson(total), ",\"by_op\":[",
                      absl::StrJoin(ops, ","), "]}");
}

}  // namespace raftkv::bench
