#include "jepsen/checker/linearizable.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "jepsen/checker/register_search.h"

namespace raftkv::jepsen {
namespace {

// Converts a key's ops; fail ops and info reads are dropped.
std::vector<SearchOp> ToSearchOps(const std::vector<Op>& ops) {
  std::vector<SearchOp> out;
  for (int i = 0; i < static_cast<int>(ops.size()); ++i) {
    const Op& op = ops[i];
    if (op.type == OpType::kFail) continue;
    SearchOp s;
    s.src = i;
    s.start = op.start;
    s.end = op.end;
    s.optional = op.type == OpType::kInfo;
    if (op.f == "read") {
      if (s.optional) continue;
      s.f = Fn::kRead;
      s.a = op.has_value && !op.is_list ? op.scalar() : kNil;
    } else if (op.f == "write") {
      if (!op.has_value || op.is_list) continue;
      s.f = Fn::kWrite;
      s.a = op.scalar();
    } else if (op.f == "cas") {
      if (!op.is_list || op.value.size() != 2) continue;
      s.f = Fn::kCas;
      s.a = op.value[0];
      s.b = op.value[1];
    } else {
      continue;
    }
    out.push_back(s);
  }
  return out;
}

// The window of ops starting at or after `from` (start-sorted candidate k),
// cut at `end`: ops returning after `end` become optional, and so do ops
// that started before `from` but were still running at `from` (they may
// have taken effect inside the window); ops that had returned by `from`
// are summarized by the window's unknown initial value. Optional reads are
// dropped. So if the whole history were linearizable, the window would be
// too, from the value the register held at `from`: a failing window is a
// sound counter-example.
std::vector<SearchOp> Window(const std::vector<SearchOp>& by_start, size_t k,
                             int64_t end) {
  std::vector<SearchOp> w;
  const int64_t from = by_start[k].start;
  for (size_t i = 0; i < by_start.size(); ++i) {
    SearchOp s = by_start[i];
    if (i < k && !s.optional && s.end <= from) continue;
    if (i < k || s.end > end) s.optional = true;
    if (s.optional && s.f == Fn::kRead) continue;
    w.push_back(s);
  }
  return w;
}

bool NonLinearizableFromAnyValue(const std::vector<SearchOp>& w,
                                 absl::Time deadline) {
  std::set<int64_t> values = {kNil};
  int64_t fresh = 0;
  for (const SearchOp& s : w) {
    values.insert(s.a);
    if (s.f == Fn::kCas) values.insert(s.b);
    fresh = std::max({fresh, s.a + 1, s.b + 1});
  }
  values.insert(fresh);  // stands for "any value not mentioned"
  for (int64_t v : values) {
    if (SearchRegister(w, v, 1'000'000, deadline).verdict !=
        Verdict::kInvalid) {
      return false;
    }
  }
  return true;
}

void FindWindow(const std::vector<Op>& ops, const std::vector<SearchOp>& all,
                int blocked, const LinearizabilityOptions& options,
                absl::Time deadline, KeyResult* r) {
  const SearchOp& f = all[blocked];
  r->failing = ops[f.src];
  std::vector<SearchOp> by_start;
  for (const SearchOp& s : all) {
    if (s.start <= f.end) by_start.push_back(s);
  }
  std::stable_sort(
      by_start.begin(), by_start.end(),
      [](const SearchOp& x, const SearchOp& y) { return x.start < y.start; });
  size_t fpos = 0;
  while (by_start[fpos].src != f.src) ++fpos;
  size_t chosen = 0;
  r->window_any_initial = false;
  for (size_t k = fpos + 1; k-- > 0;) {
    if (by_start.size() - k > static_cast<size_t>(options.max_window)) break;
    if (NonLinearizableFromAnyValue(Window(by_start, k, f.end), deadline)) {
      chosen = k;
      r->window_any_initial = true;
      break;
    }
  }
  const int64_t from = by_start[chosen].start;
  for (size_t i = 0; i < by_start.size(); ++i) {
    const SearchOp& s = by_start[i];
    if (i < chosen && !s.optional && s.end <= from) continue;
    bool optional = i < chosen || s.end > f.end || s.optional;
    if (optional && s.f == Fn::kRead) continue;
    r->window.push_back(ops[s.src]);
    r->window_optional.push_back(optional);
  }
}

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kValid:
      return "valid";
    case Verdict::kInvalid:
      return "invalid";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "?";
}

KeyResult CheckRegisterKey(const std::vector<Op>& ops,
                           const LinearizabilityOptions& options,
                           int64_t initial) {
  const absl::Time deadline =
      absl::Now() + std::min(options.timeout, options.key_timeout);
  KeyResult r;
  if (!ops.empty()) r.key = ops[0].key;
  std::vector<SearchOp> search = ToSearchOps(ops);
  r.ops = static_cast<int64_t>(search.size());
  SearchResult s =
      SearchRegister(search, initial, options.max_states, deadline);
  r.verdict = s.verdict;
  r.states_visited = s.states;
  if (s.verdict == Verdict::kInvalid) {
    FindWindow(ops, search, s.blocked_op, options, deadline, &r);
  }
  return r;
}

LinearizabilityReport CheckRegister(const std::vector<Op>& history,
                                    const LinearizabilityOptions& options) {
  const absl::Time begin = absl::Now();
  std::map<std::string, std::vector<Op>> by_key;
  for (const Op& op : history) {
    if (op.f == "read" || op.f == "write" || op.f == "cas") {
      by_key[op.key].push_back(op);
    }
  }
  LinearizabilityReport report;
  int invalid_keys = 0;
  for (const auto& [key, ops] : by_key) {
    LinearizabilityOptions o = options;
    o.timeout =
        std::max(absl::Seconds(1), options.timeout - (absl::Now() - begin));
    KeyResult r = CheckRegisterKey(ops, o);
    ++report.keys;
    report.ops += r.ops;
    if (r.verdict == Verdict::kValid) continue;
    if (r.verdict == Verdict::kInvalid) {
      report.verdict = Verdict::kInvalid;
      report.failures.push_back(std::move(r));
      if (++invalid_keys >= options.max_invalid_keys) {
        report.stopped_early = true;
        break;
      }
      continue;
    } else if (report.verdict == Verdict::kValid) {
      report.verdict = Verdict::kUnknown;
    }
    report.failures.push_back(std::move(r));
  }
  report.elapsed = absl::Now() - begin;
  return report;
}

std::string LinearizabilityReport::Describe() const {
  std::string out =
      absl::StrCat("linearizable: ", VerdictName(verdict), " (", keys,
                   " keys, ", ops, " ops, ", absl::FormatDuration(elapsed),
                   stopped_early ? "; stopped after the first "
                                   "invalid keys"
                                 : "",
                   ")\n");
  for (const KeyResult& r : failures) {
    absl::StrAppend(&out, "key ", r.key, ": ", VerdictName(r.verdict), " (",
                    r.ops, " ops, ", r.states_visited, " states)\n");
    if (r.verdict != Verdict::kInvalid) continue;
    absl::StrAppend(&out, "  cannot linearize: ", FormatOp(r.failing),
                    " (history line ", r.failing.line, ")\n",
                    "  smallest non-linearizable window (", r.window.size(),
                    " ops, ",
                    r.window_any_initial ? "from any initial value"
                                         : "from the initial nil value",
                    "; * = may be placed or left out):\n");
    for (size_t i = 0; i < r.window.size(); ++i) {
      absl::StrAppend(&out, "   ", r.window_optional[i] ? "* " : "  ",
                      FormatOp(r.window[i]), "\n");
    }
  }
  return out;
}

}  // namespace raftkv::jepsen
