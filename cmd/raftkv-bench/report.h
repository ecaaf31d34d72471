// Text and JSON reports of raftkv-bench runs.
#ifndef RAFTKV_CMD_RAFTKV_BENCH_REPORT_H_
#define RAFTKV_CMD_RAFTKV_BENCH_REPORT_H_

#include <string>
#include <vector>

#include "cmd/raftkv-bench/stats.h"

namespace raftkv::bench {

// A human-readable summary: requests, errors, throughput, latency
// percentiles in milliseconds and a histogram with bars of '*'.
std::string FormatText(const Summary& summary);

// One JSON object (one line): {"workload":..., "total":{...}, "by_op":[...]}.
// `by_op` holds per-operation summaries of a mixed run and may be empty.
// Latencies are in milliseconds; the last histogram bucket has "le_ms":null
// (+infinity).
std::string FormatJson(const std::string& workload, const Summary& total,
                       const std::vector<Summary>& by_op);

// The same object for one summary, without the wrapper.
std::string SummaryJson(const Summary& summary);

}  // namespace raftkv::bench

#endif  // RAFTKV_CMD_RAFTKV_BENCH_REPORT_H_
