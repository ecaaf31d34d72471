// The search follows Porcupine's checkSingle (anishathalye/porcupine,
// checker.go): entries in a dancing-links list, a stack of lifted calls and
// a cache of (linearized set, state). The linearized set is represented in
// the cache by two independent 64-bit Zobrist hashes (random word per
// operation, XORed in and out), not the bitset itself: a false "already
// visited" needs a 128-bit collision (~2^-128 per pair), and memory stays
// ~32 bytes per visited state even for 10,000-operation keys.
#include "jepsen/checker/linearizable.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <unordered_set>

#include "absl/strings/str_cat.h"

namespace raftkv::jepsen {
namespace {

enum class Fn { kRead, kWrite, kCas };

struct SearchOp {
  Fn f = Fn::kRead;
  int64_t a = 0, b = 0;   // read/write: a; cas: a -> b
  bool optional = false;  // info: may never take effect
  int64_t start = 0, end = 0;
  int src = 0;  // index into the key's ops
};

bool Step(const SearchOp& op, int64_t s, int64_t* out) {
  switch (op.f) {
    case Fn::kRead:
      if (s != op.a) return false;
      *out = s;
      return true;
    case Fn::kWrite:
      *out = op.a;
      return true;
    case Fn::kCas:
      if (s == op.a) {
        *out = op.b;
        return true;
      }
      // An indeterminate cas that runs and fails its compare changes
      // nothing: leaving it unlinearized is equivalent and keeps more
      // options, so the search never lifts it (a dominance pruning).
      return false;
  }
  return false;
}

struct CacheKey {
  uint64_t h1, h2;
  int64_t state;
  bool operator==(const CacheKey&) const = default;
};
struct CacheHash {
  size_t operator()(const CacheKey& k) const {
    return k.h1 ^ (k.h2 * 0x9e3779b97f4a7c15ULL) ^
           (static_cast<uint64_t>(k.state) * 0xc2b2ae3d27d4eb4fULL);
  }
};

struct SearchResult {
  Verdict verdict = Verdict::kValid;
  int blocked_op = -1;  // index into ops of the furthest unpassable return
  int64_t states = 0;
};

SearchResult Search(const std::vector<SearchOp>& ops, int64_t initial,
                    int64_t max_states, absl::Time deadline) {
  const int n = static_cast<int>(ops.size());
  SearchResult result;
  if (n == 0) return result;
  // Entries sorted by (time, call before return, op); position = id.
  struct Entry {
    int64_t time;
    bool is_return;
    int op;
  };
  std::vector<Entry> entries;
  entries.reserve(2 * n);
  for (int i = 0; i < n; ++i) {
    entries.push_back({ops[i].start, false, i});
    entries.push_back(
        {ops[i].optional ? std::numeric_limits<int64_t>::max() : ops[i].end,
         true, i});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& x, const Entry& y) {
    if (x.time != y.time) return x.time < y.time;
    if (x.is_return != y.is_return) return !x.is_return;
    return x.op < y.op;
  });
  const int m = 2 * n, head = m;
  std::vector<int> next(m + 1), prev(m + 1), ret_of(n);
  for (int i = 0; i < m; ++i) {
    if (entries[i].is_return) ret_of[entries[i].op] = i;
  }
  next[head] = 0;
  prev[0] = head;
  for (int i = 0; i < m; ++i) {
    next[i] = i + 1 < m ? i + 1 : -1;
    if (i + 1 < m) prev[i + 1] = i;
  }
  auto remove = [&](int x) {
    next[prev[x]] = next[x];
    if (next[x] != -1) prev[next[x]] = prev[x];
  };
  auto reinsert = [&](int x) {
    next[prev[x]] = x;
    if (next[x] != -1) prev[next[x]] = x;
  };

  std::mt19937_64 rng(0x5eed);
  std::vector<uint64_t> z1(n), z2(n);
  for (int i = 0; i < n; ++i) {
    z1[i] = rng();
    z2[i] = rng();
  }
  std::unordered_set<CacheKey, CacheHash> cache;
  uint64_t h1 = 0, h2 = 0;
  int64_t state = initial;
  std::vector<std::pair<int, int64_t>> stack;  // (call entry, state before)
  int furthest = -1;
  int64_t iterations = 0;

  int e = next[head];
  while (e != -1) {
    if ((++iterations & 0xfff) == 0 && absl::Now() > deadline) {
      result.verdict = Verdict::kUnknown;
      return result;
    }
    const int o = entries[e].op;
    if (!entries[e].is_return) {
      int64_t ns;
      if (Step(ops[o], state, &ns)) {
        h1 ^= z1[o];
        h2 ^= z2[o];
        if (cache.insert({h1, h2, ns}).second) {
          if (++result.states > max_states) {
            result.verdict = Verdict::kUnknown;
            return result;
          }
          stack.emplace_back(e, state);
          state = ns;
          remove(e);
          remove(ret_of[o]);
          e = next[head];
          continue;
        }
        h1 ^= z1[o];
        h2 ^= z2[o];
      }
      e = next[e];
      continue;
    }
    // A return whose call is not lifted. If it is an info return, every
    // entry left is an info operation (returns at infinity sort last, and a
    // call still listed before it has its return after it): leave them out.
    if (ops[o].optional) return result;
    if (e > furthest) {
      furthest = e;
      result.blocked_op = o;
    }
    if (stack.empty()) {
      result.verdict = Verdict::kInvalid;
      return result;
    }
    auto [call, before] = stack.back();
    stack.pop_back();
    const int co = entries[call].op;
    state = before;
    h1 ^= z1[co];
    h2 ^= z2[co];
    reinsert(ret_of[co]);
    reinsert(call);
    e = next[call];
  }
  return result;
}

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
    if (Search(w, v, 1'000'000, deadline).verdict != Verdict::kInvalid) {
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
  const absl::Time deadline = absl::Now() + options.timeout;
  KeyResult r;
  if (!ops.empty()) r.key = ops[0].key;
  std::vector<SearchOp> search = ToSearchOps(ops);
  r.ops = static_cast<int64_t>(search.size());
  SearchResult s = Search(search, initial, options.max_states, deadline);
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
