// jepsen-check: checks a recorded history.
//   jepsen-check --workload register|set|bank|watch|lease
//                --history history.jsonl [--verdict verdict.json]
//                [--accounts 5 --total 100] [--lease_margin_ms 3000]
//                [--timeout_s 120 --key_timeout_s 10 --max_states 20000000]
// Prints a human-readable report; writes {"workload":...,"verdict":...} to
// --verdict. Exit status: 0 valid, 1 invalid, 2 unknown, 3 bad input.
#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "jepsen/checker/history.h"
#include "jepsen/checker/lease.h"
#include "jepsen/checker/linearizable.h"
#include "jepsen/checker/set_bank.h"
#include "jepsen/checker/watch.h"

ABSL_FLAG(std::string, workload, "register",
          "register, set, bank, watch or lease");
ABSL_FLAG(std::string, history, "history.jsonl", "history file (JSON lines)");
ABSL_FLAG(std::string, verdict, "", "where to write the verdict as JSON");
ABSL_FLAG(int, accounts, 5, "bank: number of accounts");
ABSL_FLAG(int64_t, total, 100, "bank: total balance");
ABSL_FLAG(int64_t, lease_margin_ms, 3000,
          "lease: election timeout + commit slack allowed past TTL");
ABSL_FLAG(std::string, faults, "",
          "lease: fault windows start-end,... in ns (nemesis.jsonl)");
ABSL_FLAG(int, timeout_s, 120, "register: give up (unknown) after this long");
ABSL_FLAG(int, key_timeout_s, 10, "register: per key, give up after this long");
ABSL_FLAG(int64_t, max_states, 20'000'000,
          "register: per key, give up after visiting this many states");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace raftkv::jepsen;
  absl::StatusOr<std::vector<Op>> history =
      ReadHistoryFile(absl::GetFlag(FLAGS_history));
  if (!history.ok()) {
    std::cerr << history.status() << "\n";
    return 3;
  }
  const std::string workload = absl::GetFlag(FLAGS_workload);
  Verdict verdict;
  std::string text, extra;
  if (workload == "register") {
    LinearizabilityOptions o;
    o.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
    o.key_timeout = absl::Seconds(absl::GetFlag(FLAGS_key_timeout_s));
    o.max_states = absl::GetFlag(FLAGS_max_states);
    LinearizabilityReport r = CheckRegister(*history, o);
    verdict = r.verdict;
    text = r.Describe();
    extra =
        absl::StrCat("\"keys\":", r.keys, ",\"ops\":", r.ops,
                     ",\"bad_keys\":", r.failures.size(),
                     ",\"check_ms\":", absl::ToInt64Milliseconds(r.elapsed));
  } else if (workload == "set") {
    SetReport r = CheckSet(*history);
    verdict = r.verdict;
    text = r.Describe();
    extra = absl::StrCat(
        "\"acknowledged\":", r.acknowledged, ",\"lost\":", r.lost_count,
        ",\"unexpected\":", r.unexpected_count, ",\"recovered\":", r.recovered);
  } else if (workload == "bank") {
    BankReport r = CheckBank(*history, absl::GetFlag(FLAGS_accounts),
                             absl::GetFlag(FLAGS_total));
    verdict = r.verdict;
    text = r.Describe();
    extra = absl::StrCat("\"reads\":", r.reads, ",\"bad_reads\":", r.bad_reads,
                         ",\"transfers_ok\":", r.transfers_ok);
  } else if (workload == "watch") {
    WatchReport r = CheckWatch(*history);
    verdict = r.verdict;
    text = r.Describe();
    extra = absl::StrCat(
        "\"watchers\":", r.watchers, ",\"events_received\":", r.events_received,
        ",\"committed_events\":", r.committed_events,
        ",\"progress\":", r.progress_notifications,
        ",\"acknowledged_lost\":", r.acknowledged_lost, ",\"violations\":{");
    bool first = true;
    for (const auto& [g, n] : r.violations) {
      absl::StrAppend(&extra, first ? "" : ",", "\"", g, "\":", n);
      first = false;
    }
    extra += "}";
  } else if (workload == "lease") {
    std::vector<Fault> faults;
    for (absl::string_view w :
         absl::StrSplit(absl::GetFlag(FLAGS_faults), ',', absl::SkipEmpty())) {
      std::pair<std::string, std::string> se = absl::StrSplit(w, '-');
      Fault f{0, 0};
      if (absl::SimpleAtoi(se.first, &f.start) &&
          absl::SimpleAtoi(se.second, &f.end)) {
        faults.push_back(f);
      }
    }
    LeaseReport r = CheckLease(
        *history, absl::GetFlag(FLAGS_lease_margin_ms) * 1'000'000, faults);
    verdict = r.verdict;
    text = r.Describe();
    extra = absl::StrCat("\"leases\":", r.leases,
                         ",\"expiry_checked\":", r.expiry_checked,
                         ",\"kept_reads\":", r.kept_reads,
                         ",\"expired_late\":", r.violations["expired"],
                         ",\"vanished_early\":", r.violations["kept_alive"]);
  } else {
    std::cerr << "unknown --workload " << workload << "\n";
    return 3;
  }
  std::cout << text;
  if (const std::string path = absl::GetFlag(FLAGS_verdict); !path.empty()) {
    std::ofstream(path) << "{\"workload\":\"" << workload << "\",\"verdict\":\""
                        << VerdictName(verdict) << "\"," << extra << "}\n";
  }
  return verdict == Verdict::kValid ? 0 : verdict == Verdict::kInvalid ? 1 : 2;
}
