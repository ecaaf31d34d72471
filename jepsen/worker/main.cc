// jepsen-worker: runs one workload's clients and appends their operations to
// a history file (checker/history.h format).
//   jepsen-worker --workload register --endpoints 10.77.0.11:2379,...
//                 --time_s 30 --threads 10 --history h.jsonl --t0_ns N
//   jepsen-worker --workload set --final_read ...   (after healing)
// Exit status 0 when the run (or final read) completed, 1 otherwise.
#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_split.h"
#include "jepsen/worker/recorder.h"
#include "jepsen/worker/workloads.h"

ABSL_FLAG(std::string, workload, "register",
          "register, set, bank, watch or lease");
ABSL_FLAG(std::string, endpoints, "127.0.0.1:2379", "comma-separated");
ABSL_FLAG(std::string, history, "history.jsonl", "appended to");
ABSL_FLAG(int, threads, 10, "concurrent clients");
ABSL_FLAG(int, time_s, 30, "run time");
ABSL_FLAG(int, op_timeout_ms, 1000, "client deadline per operation");
ABSL_FLAG(int, pause_ms, 10, "pause between a client's operations");
ABSL_FLAG(int64_t, ops_per_key, 150, "register: operations per key");
ABSL_FLAG(int, accounts, 5, "bank: accounts");
ABSL_FLAG(int64_t, total, 100, "bank: total balance");
ABSL_FLAG(uint64_t, seed, 1, "random seed");
ABSL_FLAG(int64_t, t0_ns, 0, "CLOCK_MONOTONIC origin of the history times");
ABSL_FLAG(bool, final_read, false, "set, watch, lease: only do the final read");
ABSL_FLAG(int, watchers, 4, "watch: clients that watch (of --threads)");
ABSL_FLAG(int64_t, lease_ttl_s, 4, "lease: TTL to grant");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  raftkv::jepsen::WorkerConfig c;
  c.workload = absl::GetFlag(FLAGS_workload);
  c.endpoints =
      absl::StrSplit(absl::GetFlag(FLAGS_endpoints), ',', absl::SkipEmpty());
  c.threads = absl::GetFlag(FLAGS_threads);
  c.duration = absl::Seconds(absl::GetFlag(FLAGS_time_s));
  c.op_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_op_timeout_ms));
  c.pause = absl::Milliseconds(absl::GetFlag(FLAGS_pause_ms));
  c.ops_per_key = absl::GetFlag(FLAGS_ops_per_key);
  c.accounts = absl::GetFlag(FLAGS_accounts);
  c.total = absl::GetFlag(FLAGS_total);
  c.seed = absl::GetFlag(FLAGS_seed);
  c.watchers = absl::GetFlag(FLAGS_watchers);
  c.lease_ttl_s = absl::GetFlag(FLAGS_lease_ttl_s);
  FILE* out = fopen(absl::GetFlag(FLAGS_history).c_str(), "a");
  if (out == nullptr || c.endpoints.empty()) {
    std::cerr << "cannot open history or no endpoints\n";
    return 1;
  }
  raftkv::jepsen::Recorder recorder(out, absl::GetFlag(FLAGS_t0_ns));
  absl::Status s;
  if (!absl::GetFlag(FLAGS_final_read)) {
    s = raftkv::jepsen::RunWorkload(c, recorder);
  } else if (c.workload == "watch") {
    s = raftkv::jepsen::FinalWatchRead(c, recorder, absl::Seconds(60));
  } else if (c.workload == "lease") {
    s = raftkv::jepsen::FinalLeaseRead(c, recorder, absl::Seconds(30));
  } else {
    s = raftkv::jepsen::FinalSetRead(c, recorder, absl::Seconds(30));
  }
  fclose(out);
  if (!s.ok()) {
    std::cerr << "jepsen-worker: " << s << "\n";
    return 1;
  }
  return 0;
}
