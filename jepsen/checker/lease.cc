#include "jepsen/checker/lease.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace raftkv::jepsen {
namespace {

constexpr size_t kExamples = 5;

struct LeaseKey {
  const Op* grant = nullptr;
  const Op* put = nullptr;
  std::vector<const Op*> keepalives, reads;
};

// A final read of the prefix: the keys still present.
struct FinalRead {
  const Op* op;
  std::set<std::string> present;
};

struct Window {
  int64_t lo, hi;
};

void Flag(LeaseReport& r, const std::string& guarantee, std::string what) {
  if (++r.violations[guarantee] <= static_cast<int64_t>(kExamples)) {
    r.examples[guarantee].push_back(std::move(what));
  }
}

double Sec(int64_t ns) { return static_cast<double>(ns) / 1e9; }

void CheckKey(LeaseReport& r, const std::string& key, const LeaseKey& k,
              const std::vector<FinalRead>& finals, int64_t margin,
              const std::vector<Fault>& faults) {
  if (k.grant == nullptr || k.grant->type != OpType::kOk ||
      k.grant->value.size() != 2 || k.put == nullptr ||
      k.put->type == OpType::kFail) {
    return;
  }
  ++r.leases;
  const int64_t ttl = k.grant->value[0] * 1'000'000'000;
  int64_t last_renewal = k.grant->end;
  std::vector<Window> alive = {{k.grant->end, k.grant->start + ttl}};
  std::vector<int64_t> acks;
  for (const Op* ka : k.keepalives) {
    const bool renewed =
        ka->type == OpType::kOk && ka->value.size() == 2 && ka->value[1] > 0;
    if (ka->type == OpType::kInfo || renewed) {
      last_renewal = std::max(last_renewal, ka->end);
    }
    if (renewed) {
      alive.push_back({ka->end, ka->start + ttl});
      acks.push_back(ka->end);
    }
  }
  // expired
  int64_t deadline = last_renewal + ttl + margin;
  for (const Fault& f : faults) {  // sorted by start
    if (f.start > deadline) break;
    if (f.end > last_renewal)
      deadline = std::max(deadline, f.end + ttl + margin);
  }
  bool checked = false;
  auto observe = [&](const Op& read, bool present) {
    if (read.start > deadline || !present) checked = true;
    if (present && read.start > deadline) {
      Flag(r, "expired",
           absl::StrCat(key, " present at ", Sec(read.start),
                        " s, after its deadline ", Sec(deadline),
                        " s (last renewal ", Sec(last_renewal), " s)"));
    }
  };
  for (const Op* read : k.reads) {
    if (read->type == OpType::kOk && read->value.size() == 1) {
      observe(*read, read->value[0] == 1);
    }
  }
  for (const FinalRead& f : finals) observe(*f.op, f.present.contains(key));
  if (checked) ++r.expiry_checked;
  // kept_alive
  if (k.put->type != OpType::kOk) return;
  auto inside = [&](const Op& op) {
    if (op.start < k.put->end) return false;
    for (const Window& w : alive) {
      if (w.lo <= op.start && op.end <= w.hi) return true;
    }
    return false;
  };
  for (const Op* read : k.reads) {
    if (read->type != OpType::kOk || read->value.size() != 1 ||
        !inside(*read)) {
      continue;
    }
    ++r.kept_reads;
    if (read->value[0] == 0) {
      Flag(r, "kept_alive",
           absl::StrCat(key, " missing at ", Sec(read->start), "..",
                        Sec(read->end), " s while its lease was kept alive"));
    }
  }
  for (const Op* ka : k.keepalives) {
    if (ka->type == OpType::kOk && ka->value.size() == 2 && ka->value[1] == 0 &&
        inside(*ka)) {
      Flag(r, "kept_alive",
           absl::StrCat(key, " lease gone at keep-alive ", Sec(ka->start),
                        " s while kept alive"));
    }
  }
  int64_t prev = k.grant->end;
  bool continuous = !acks.empty();
  for (int64_t a : acks) {
    continuous = continuous && a - prev <= ttl / 3;
    prev = a;
  }
  if (continuous) ++r.continuously_kept;
}

}  // namespace

LeaseReport CheckLease(const std::vector<Op>& history, int64_t margin_ns,
                       std::vector<Fault> faults) {
  std::sort(faults.begin(), faults.end(),
            [](const Fault& a, const Fault& b) { return a.start < b.start; });
  LeaseReport r;
  std::map<std::string, LeaseKey> keys;
  std::vector<FinalRead> finals;
  for (const Op& op : history) {
    if (op.f == "final-read") {
      if (op.type != OpType::kOk) continue;
      FinalRead& f = finals.emplace_back(FinalRead{&op, {}});
      for (const auto& e : op.events) {
        if (e.size() == 2) {
          f.present.insert(absl::StrCat("jl/", e[0], "/", e[1]));
        }
      }
      continue;
    }
    LeaseKey& k = keys[op.key];
    if (op.f == "grant" && k.grant == nullptr) k.grant = &op;
    if (op.f == "put" && k.put == nullptr) k.put = &op;
    if (op.f == "keepalive") {
      k.keepalives.push_back(&op);
      if (op.type == OpType::kOk) ++r.keepalives_ok;
      if (op.type == OpType::kInfo) ++r.keepalives_info;
    }
    if (op.f == "read") k.reads.push_back(&op);
  }
  for (const auto& [key, k] : keys) {
    CheckKey(r, key, k, finals, margin_ns, faults);
  }
  if (!r.violations.empty()) r.verdict = Verdict::kInvalid;
  if (r.leases == 0) r.verdict = Verdict::kUnknown;
  return r;
}

std::string LeaseReport::Describe() const {
  std::string out = absl::StrCat(
      "lease: ", VerdictName(verdict), " (", leases, " leases with a key, ",
      expiry_checked, " seen to expire or read after their deadline, ",
      continuously_kept, " acknowledged at least every TTL/3 while kept, ",
      kept_reads, " reads while certainly alive; keep-alives ok ",
      keepalives_ok, ", info ", keepalives_info, ")\n");
  AppendViolations(violations, examples, &out);
  return out;
}

}  // namespace raftkv::jepsen
