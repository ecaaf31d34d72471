// The cache key is the set of lifted determinate ops, as two independent
// 64-bit Zobrist hashes (a random word per operation, XORed in and out), not
// the bitset itself: a false "already visited" needs a 128-bit collision
// (~2^-128 per pair), and memory stays ~32 bytes per visited state even for
// 10,000-operation keys; and the state. Under each key the cache keeps the
// count vectors (ops used per optional class) seen there, and a visit is
// new only if no stored vector is <= it componentwise: having used fewer
// optional ops of every class leaves more choices for the rest, so a visit
// that used more is dominated (a subsumption cache; without it an invalid
// key with ~60 pending ops took over 10 s).
#include "jepsen/checker/register_search.h"

#include <algorithm>
#include <map>
#include <random>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace raftkv::jepsen {
namespace {

// The value a read or a cas needs the register to hold; false for a write.
bool Needs(const SearchOp& op, int64_t* v) {
  if (op.f == Fn::kWrite) return false;
  *v = op.a;
  return true;
}

// The register's value after `op` took effect.
int64_t After(const SearchOp& op) { return op.f == Fn::kCas ? op.b : op.a; }

// Indexes of the optional ops some later op could observe (header: an
// optional op whose value no one can read only ever gets overwritten).
// Iterated to a fixpoint: dropping an optional cas from v removes an
// observer of v.
std::vector<int> ObservableOptional(const std::vector<SearchOp>& ops,
                                    int64_t* dropped) {
  const int n = static_cast<int>(ops.size());
  std::map<int64_t, int64_t> last_observer_end;  // determinate reads and cas
  std::map<int64_t, int> optional_cas_from;      // kept optional cas
  std::vector<bool> keep(n, false);
  for (int i = 0; i < n; ++i) {
    const SearchOp& op = ops[i];
    if (op.optional) {
      if (op.f == Fn::kRead || (op.f == Fn::kCas && op.a == op.b)) continue;
      keep[i] = true;
      if (op.f == Fn::kCas) ++optional_cas_from[op.a];
    } else if (int64_t v; Needs(op, &v)) {
      int64_t& end = last_observer_end.try_emplace(v, op.end).first->second;
      end = std::max(end, op.end);
    }
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = 0; i < n; ++i) {
      if (!keep[i]) continue;
      const int64_t v = After(ops[i]);
      auto late = last_observer_end.find(v);
      auto cas = optional_cas_from.find(v);
      if ((late != last_observer_end.end() && late->second >= ops[i].start) ||
          (cas != optional_cas_from.end() && cas->second > 0)) {
        continue;
      }
      keep[i] = false;
      changed = true;
      if (ops[i].f == Fn::kCas) --optional_cas_from[ops[i].a];
    }
  }
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    if (keep[i]) out.push_back(i);
    if (ops[i].optional && !keep[i]) ++*dropped;
  }
  return out;
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

// One search. Not thread-safe; used once.
class Searcher {
 public:
  Searcher(const std::vector<SearchOp>& ops, int64_t initial,
           int64_t max_states, absl::Time deadline);
  SearchResult Run();

 private:
  // A call or return of a determinate op; position in entries_ = list id.
  struct Entry {
    int64_t time;
    bool is_return;
    int op;
  };
  // Optional ops with the same f and values, sorted by start.
  // Invariant: ops[0, used) are linearized, the rest are not.
  struct Class {
    Fn f;
    int64_t a, b;
    std::vector<int> ops;
    int used = 0;
  };
  // A lifted determinate op: its call entry, the state before it, and its
  // ways to be lifted (direct, or one of `chains` of optional classes);
  // `tried` of them have been tried, the last of which is in effect.
  struct Frame {
    int call = 0;
    int64_t before = 0;
    bool direct = false;
    std::vector<std::vector<int>> chains;
    size_t tried = 0;
  };

  void Remove(int x);
  void Reinsert(int x);
  int64_t Horizon() const;
  bool Available(int c, int64_t horizon) const;
  void Chains(int64_t from, int64_t to, int64_t horizon,
              std::vector<std::vector<int>>* out) const;
  void Walk(int64_t at, int64_t to, int64_t horizon,
            const std::vector<int64_t>& reach, std::vector<int>* path,
            std::vector<int64_t>* seen,
            std::vector<std::vector<int>>* out) const;
  Frame NewFrame(int call) const;
  bool Lift(Frame f);
  void Take(const std::vector<int>& chain);
  void Untake(const std::vector<int>& chain);
  bool Visit(int64_t state);
  static const std::vector<int>& Chain(const Frame& f, size_t i);

  const std::vector<SearchOp>& ops_;
  const int64_t max_states_;
  const absl::Time deadline_;
  std::vector<Entry> entries_;
  int head_ = 0;
  std::vector<int> next_, prev_, ret_of_;
  std::vector<Class> classes_;
  std::map<int64_t, int> write_class_;               // value -> class
  std::map<int64_t, std::vector<int>> cas_classes_;  // from -> classes
  std::vector<uint64_t> z1_, z2_;
  std::unordered_map<CacheKey, std::vector<std::vector<uint16_t>>, CacheHash>
      cache_;
  uint64_t h1_ = 0, h2_ = 0;
  int64_t state_;
  std::vector<Frame> stack_;
  SearchResult result_;
};

Searcher::Searcher(const std::vector<SearchOp>& ops, int64_t initial,
                   int64_t max_states, absl::Time deadline)
    : ops_(ops), max_states_(max_states), deadline_(deadline), state_(initial) {
  const int n = static_cast<int>(ops.size());
  std::mt19937_64 rng(0x5eed);
  z1_.resize(n);
  z2_.resize(n);
  for (int i = 0; i < n; ++i) {
    z1_[i] = rng();
    z2_[i] = rng();
  }
  // Entries sorted by (time, call before return, op): touching ops count as
  // concurrent.
  for (int i = 0; i < n; ++i) {
    if (ops[i].optional) continue;
    entries_.push_back({ops[i].start, false, i});
    entries_.push_back({ops[i].end, true, i});
  }
  std::sort(entries_.begin(), entries_.end(),
            [](const Entry& x, const Entry& y) {
              if (x.time != y.time) return x.time < y.time;
              if (x.is_return != y.is_return) return !x.is_return;
              return x.op < y.op;
            });
  const int m = static_cast<int>(entries_.size());
  head_ = m;
  next_.assign(m + 1, -1);
  prev_.assign(m + 1, head_);
  ret_of_.assign(n, -1);
  next_[head_] = m > 0 ? 0 : -1;
  for (int i = 0; i < m; ++i) {
    if (entries_[i].is_return) ret_of_[entries_[i].op] = i;
    next_[i] = i + 1 < m ? i + 1 : -1;
    prev_[i] = i > 0 ? i - 1 : head_;
  }
  std::vector<int> optional =
      ObservableOptional(ops, &result_.optional_dropped);
  std::stable_sort(optional.begin(), optional.end(),
                   [&](int x, int y) { return ops[x].start < ops[y].start; });
  std::map<std::tuple<Fn, int64_t, int64_t>, int> by_kind;
  for (int i : optional) {
    const SearchOp& op = ops[i];
    const int64_t b = op.f == Fn::kCas ? op.b : 0;
    auto [it, added] =
        by_kind.try_emplace({op.f, op.a, b}, static_cast<int>(classes_.size()));
    if (added) {
      classes_.push_back({op.f, op.a, b, {}, 0});
      if (op.f == Fn::kWrite) {
        write_class_[op.a] = it->second;
      } else {
        cas_classes_[op.a].push_back(it->second);
      }
    }
    classes_[it->second].ops.push_back(i);
  }
}

void Searcher::Remove(int x) {
  next_[prev_[x]] = next_[x];
  if (next_[x] != -1) prev_[next_[x]] = prev_[x];
}

void Searcher::Reinsert(int x) {
  next_[prev_[x]] = x;
  if (next_[x] != -1) prev_[next_[x]] = x;
}

// The time of the first return still listed: an op lifted now must have
// started by then. REQUIRES: some determinate op is unlifted.
int64_t Searcher::Horizon() const {
  int e = next_[head_];
  while (!entries_[e].is_return) e = next_[e];
  return entries_[e].time;
}

bool Searcher::Available(int c, int64_t horizon) const {
  const Class& k = classes_[c];
  return k.used < static_cast<int>(k.ops.size()) &&
         ops_[k.ops[k.used]].start <= horizon;
}

// Every chain (header, fact 2) taking the register from `from` to `to`:
// optionally an optional write, then optional cas steps, no value twice.
void Searcher::Chains(int64_t from, int64_t to, int64_t horizon,
                      std::vector<std::vector<int>>* out) const {
  // The values from which available cas steps lead to `to`, found backwards
  // first, so the walk never explores a part of the graph that cannot end
  // there (most reads need no chain that exists).
  std::vector<int64_t> reach = {to};
  for (size_t i = 0; i < reach.size(); ++i) {
    for (const auto& [a, classes] : cas_classes_) {
      if (std::find(reach.begin(), reach.end(), a) != reach.end()) continue;
      for (int c : classes) {
        if (classes_[c].b == reach[i] && Available(c, horizon)) {
          reach.push_back(a);
          break;
        }
      }
    }
  }
  std::vector<int> path;
  std::vector<int64_t> seen = {from};
  if (std::find(reach.begin(), reach.end(), from) != reach.end()) {
    Walk(from, to, horizon, reach, &path, &seen, out);
  }
  for (const auto& [value, c] : write_class_) {
    if (value == from || !Available(c, horizon) ||
        std::find(reach.begin(), reach.end(), value) == reach.end()) {
      continue;
    }
    path = {c};
    seen = {from, value};
    Walk(value, to, horizon, reach, &path, &seen, out);
  }
}

void Searcher::Walk(int64_t at, int64_t to, int64_t horizon,
                    const std::vector<int64_t>& reach, std::vector<int>* path,
                    std::vector<int64_t>* seen,
                    std::vector<std::vector<int>>* out) const {
  if (at == to) {
    out->push_back(*path);
    return;
  }
  auto it = cas_classes_.find(at);
  if (it == cas_classes_.end()) return;
  for (int c : it->second) {
    const int64_t b = classes_[c].b;
    if (!Available(c, horizon) ||
        std::find(reach.begin(), reach.end(), b) == reach.end() ||
        std::find(seen->begin(), seen->end(), b) != seen->end()) {
      continue;
    }
    path->push_back(c);
    seen->push_back(b);
    Walk(b, to, horizon, reach, path, seen, out);
    seen->pop_back();
    path->pop_back();
  }
}

Searcher::Frame Searcher::NewFrame(int call) const {
  Frame f;
  f.call = call;
  f.before = state_;
  const SearchOp& x = ops_[entries_[call].op];
  int64_t need;
  if (!Needs(x, &need) || need == state_) {
    f.direct = true;
  } else {
    Chains(state_, need, Horizon(), &f.chains);
  }
  return f;
}

const std::vector<int>& Searcher::Chain(const Frame& f, size_t i) {
  static const std::vector<int> kNone;
  return f.direct ? kNone : f.chains[i];
}

void Searcher::Take(const std::vector<int>& chain) {
  for (int c : chain) ++classes_[c].used;
}

void Searcher::Untake(const std::vector<int>& chain) {
  for (int c : chain) --classes_[c].used;
}

// Records a visit of (lifted set, `state`, classes' used counts); false if
// it was visited before with no more ops used of any class.
bool Searcher::Visit(int64_t state) {
  std::vector<std::vector<uint16_t>>& seen = cache_[{h1_, h2_, state}];
  std::vector<uint16_t> used(classes_.size());
  for (size_t c = 0; c < classes_.size(); ++c) used[c] = classes_[c].used;
  for (const std::vector<uint16_t>& v : seen) {
    bool dominates = true;
    for (size_t c = 0; c < used.size() && dominates; ++c) {
      dominates = v[c] <= used[c];
    }
    if (dominates) return false;
  }
  seen.push_back(std::move(used));
  return true;
}

// Lifts f's op by its next untried way whose (set, state) is new; false if
// none is (or the state budget ran out: result_.verdict is then kUnknown).
bool Searcher::Lift(Frame f) {
  const int o = entries_[f.call].op;
  const size_t ways = f.direct ? 1 : f.chains.size();
  while (f.tried < ways) {
    const std::vector<int>& chain = Chain(f, f.tried++);
    Take(chain);
    h1_ ^= z1_[o];
    h2_ ^= z2_[o];
    const int64_t after = After(ops_[o]);
    if (Visit(after)) {
      if (++result_.states > max_states_) {
        result_.verdict = Verdict::kUnknown;
        return false;
      }
      state_ = after;
      Remove(f.call);
      Remove(ret_of_[o]);
      stack_.push_back(std::move(f));
      return true;
    }
    h1_ ^= z1_[o];
    h2_ ^= z2_[o];
    Untake(chain);
  }
  return false;
}

SearchResult Searcher::Run() {
  int furthest = -1;
  int64_t iterations = 0;
  int e = next_[head_];
  while (e != -1) {
    if ((++iterations & 0xfff) == 0 && absl::Now() > deadline_) {
      result_.verdict = Verdict::kUnknown;
      return result_;
    }
    if (!entries_[e].is_return) {
      const bool lifted = Lift(NewFrame(e));
      if (result_.verdict == Verdict::kUnknown) return result_;
      e = lifted ? next_[head_] : next_[e];
      continue;
    }
    // A return whose op is not lifted: undo the last lift and try its next
    // way, else the calls after it.
    if (e > furthest) {
      furthest = e;
      result_.blocked_op = entries_[e].op;
    }
    if (stack_.empty()) {
      result_.verdict = Verdict::kInvalid;
      return result_;
    }
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    const int o = entries_[f.call].op;
    state_ = f.before;
    h1_ ^= z1_[o];
    h2_ ^= z2_[o];
    Untake(Chain(f, f.tried - 1));
    Reinsert(ret_of_[o]);
    Reinsert(f.call);
    const int call = f.call;
    const bool lifted = Lift(std::move(f));
    if (result_.verdict == Verdict::kUnknown) return result_;
    e = lifted ? next_[head_] : next_[call];
  }
  return result_;
}

}  // namespace

SearchResult SearchRegister(const std::vector<SearchOp>& ops, int64_t initial,
                            int64_t max_states, absl::Time deadline) {
  return Searcher(ops, initial, max_states, deadline).Run();
}

}  // namespace raftkv::jepsen
