// The register linearizability checker on hand-written histories (ok, fail
// and info outcomes), counter-example windows, per-key partitioning, a
// generated 10,000-op single-key history checked against a time budget,
// keys full of indeterminate writes (a kill-all) with and without an
// injected stale read, and random small histories against brute force.
#include "jepsen/checker/linearizable.h"

#include <algorithm>
#include <iostream>
#include <random>

#include "gtest/gtest.h"
#include "jepsen/tests/test_ops.h"

namespace raftkv::jepsen {
namespace {

using namespace testing;  // NOLINT: test shorthand

Verdict Check(const std::vector<Op>& ops) { return CheckRegister(ops).verdict; }

TEST(Linearizable, EmptyAndSequential) {
  EXPECT_EQ(Check({}), Verdict::kValid);
  EXPECT_EQ(Check({Rnil(1, 0, 1), W(1, 1, 2, 3), R(2, 1, 4, 5)}),
            Verdict::kValid);
}

TEST(Linearizable, StaleReadIsInvalidWithTwoOpWindow) {
  std::vector<Op> h = {W(1, 1, 0, 10), W(1, 2, 20, 30), R(2, 1, 40, 50)};
  LinearizabilityReport r = CheckRegister(h);
  ASSERT_EQ(r.verdict, Verdict::kInvalid);
  ASSERT_EQ(r.failures.size(), 1u);
  const KeyResult& k = r.failures[0];
  EXPECT_EQ(k.failing.f, "read");
  EXPECT_TRUE(k.window_any_initial);
  ASSERT_EQ(k.window.size(), 2u);  // write 2, then read 1: impossible
  EXPECT_EQ(k.window[0].scalar(), 2);
  EXPECT_EQ(k.window[1].scalar(), 1);
  EXPECT_NE(r.Describe().find("cannot linearize"), std::string::npos);
}

TEST(Linearizable, ConcurrentReadsMayObserveEitherOrder) {
  // A write overlapping two reads: nil then 1 is fine...
  EXPECT_EQ(Check({W(1, 1, 0, 100), Rnil(2, 10, 20), R(3, 1, 30, 40)}),
            Verdict::kValid);
  // ...and overlapping reads may see 1 and nil in either order.
  EXPECT_EQ(Check({W(1, 1, 0, 100), R(2, 1, 10, 50), Rnil(3, 20, 60)}),
            Verdict::kValid);
  // But once a read of 1 has returned, a later read cannot see nil.
  EXPECT_EQ(Check({W(1, 1, 0, 100), R(2, 1, 10, 20), Rnil(3, 30, 40)}),
            Verdict::kInvalid);
}

TEST(Linearizable, TouchingOpsCountAsConcurrent) {
  // The read starts at the instant the write ends: either order is allowed.
  EXPECT_EQ(Check({W(1, 1, 0, 10), Rnil(2, 10, 20)}), Verdict::kValid);
}

TEST(Linearizable, CompareAndSet) {
  EXPECT_EQ(Check({W(1, 0, 0, 1), Cas(1, 0, 1, 2, 3), R(2, 1, 4, 5)}),
            Verdict::kValid);
  // The cas claims success but the value was 2.
  EXPECT_EQ(Check({W(1, 0, 0, 1), W(1, 2, 2, 3), Cas(2, 0, 1, 4, 5)}),
            Verdict::kInvalid);
  // Two successful cas from the same value cannot both linearize.
  EXPECT_EQ(Check({W(1, 0, 0, 1), Cas(1, 0, 1, 2, 10), Cas(2, 0, 2, 3, 11),
                   R(3, 1, 12, 13)}),
            Verdict::kInvalid);
}

TEST(Linearizable, FailedOpsHadNoEffect) {
  EXPECT_EQ(Check({Fail(W(1, 5, 0, 10)), R(2, 5, 20, 30)}), Verdict::kInvalid);
  EXPECT_EQ(Check({W(1, 0, 0, 1), Fail(Cas(1, 0, 7, 2, 3)), R(2, 0, 4, 5)}),
            Verdict::kValid);
}

TEST(Linearizable, InfoWriteMayTakeEffectLateOrNever) {
  // Never observed: fine.
  EXPECT_EQ(Check({Info(W(1, 1, 0, 10)), Rnil(2, 20, 30)}), Verdict::kValid);
  // Observed long after the client gave up: fine (completion at infinity).
  EXPECT_EQ(Check({Info(W(1, 1, 0, 10)), Rnil(2, 20, 30), R(3, 1, 1000, 1010)}),
            Verdict::kValid);
  // Cannot be observed before it was invoked.
  EXPECT_EQ(Check({R(2, 1, 0, 5), Info(W(1, 1, 10, 20))}), Verdict::kInvalid);
  // Takes effect once: 1 then nil then 1 again is impossible.
  EXPECT_EQ(Check({Info(W(1, 1, 0, 10)), R(2, 1, 20, 30), W(3, 2, 40, 50),
                   R(2, 1, 60, 70)}),
            Verdict::kInvalid);
}

TEST(Linearizable, InfoCasMayRunAndFailItsCompare) {
  EXPECT_EQ(Check({W(1, 0, 0, 1), Info(Cas(2, 0, 1, 2, 3)), R(3, 0, 4, 5),
                   R(3, 1, 6, 7)}),
            Verdict::kValid);
  EXPECT_EQ(Check({W(1, 0, 0, 1), Info(Cas(2, 0, 1, 2, 3)), R(3, 1, 4, 5),
                   R(3, 0, 6, 7)}),
            Verdict::kInvalid);
  // An info cas whose compare can never hold is harmless.
  EXPECT_EQ(Check({W(1, 0, 0, 1), Info(Cas(2, 9, 1, 2, 3)), R(3, 0, 4, 5)}),
            Verdict::kValid);
}

TEST(Linearizable, InfoReadsCarryNoInformation) {
  EXPECT_EQ(Check({W(1, 1, 0, 1), Info(R(2, 7, 2, 3))}), Verdict::kValid);
}

TEST(Linearizable, KeysAreIndependent) {
  std::vector<Op> h = {Key(W(1, 1, 0, 10), "a"), Key(W(2, 2, 0, 10), "b"),
                       Key(R(3, 1, 20, 30), "a"), Key(R(4, 2, 20, 30), "b")};
  LinearizabilityReport r = CheckRegister(h);
  EXPECT_EQ(r.verdict, Verdict::kValid);
  EXPECT_EQ(r.keys, 2);
  h.push_back(Key(R(5, 1, 40, 50), "b"));
  r = CheckRegister(h);
  ASSERT_EQ(r.verdict, Verdict::kInvalid);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].key, "b");
}

// A linearizable single-key history: each op gets a linearization point
// inside [start, end]; results are computed by applying ops in that order.
// Some writes and cas become info (applied or not), after which the process
// is retired, as a Jepsen worker does.
// Ops with index in [outage_from, outage_to) model a kill-all: every write
// and cas is info, every read fails.
std::vector<Op> Generate(int n, int processes, uint64_t seed,
                         int info_one_in = 50, int outage_from = 0,
                         int outage_to = 0) {
  std::mt19937_64 rng(seed);
  struct Planned {
    Op op;
    int64_t lin;
    bool applies;
  };
  std::vector<Planned> plan;
  std::vector<int64_t> free_at(processes, 0), pid(processes);
  for (int p = 0; p < processes; ++p) pid[p] = p;
  for (int i = 0; i < n; ++i) {
    int p = static_cast<int>(rng() % processes);
    int64_t start = free_at[p] + static_cast<int64_t>(rng() % 50);
    int64_t lin = start + 1 + static_cast<int64_t>(rng() % 100);
    int64_t end = lin + 1 + static_cast<int64_t>(rng() % 100);
    free_at[p] = end + 1;
    int kind = static_cast<int>(rng() % 3);
    int64_t v = static_cast<int64_t>(rng() % 5);
    Op op = kind == 0 ? R(pid[p], 0, start, end)
            : kind == 1
                ? W(pid[p], v, start, end)
                : Cas(pid[p], static_cast<int64_t>(rng() % 5), v, start, end);
    const bool outage = i >= outage_from && i < outage_to;
    bool info = kind != 0 && (outage || rng() % info_one_in == 0);
    if (outage && kind == 0) op.type = OpType::kFail;
    bool applies = true;
    if (info) {
      op.type = OpType::kInfo;
      applies = rng() % 2 == 0;
      pid[p] += processes;
    }
    plan.push_back({op, lin, applies});
  }
  std::vector<size_t> order(plan.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return plan[a].lin < plan[b].lin; });
  int64_t state = kNil;
  for (size_t i : order) {
    Op& op = plan[i].op;
    if (op.f == "read") {
      if (op.type == OpType::kFail) continue;
      op.has_value = state != kNil;
      op.value =
          op.has_value ? std::vector<int64_t>{state} : std::vector<int64_t>{};
    } else if (!plan[i].applies) {
      continue;
    } else if (op.f == "write") {
      state = op.scalar();
    } else if (state == op.value[0]) {
      state = op.value[1];
    } else if (op.type == OpType::kOk) {
      op.type = OpType::kFail;
    }
  }
  std::vector<Op> out;
  for (auto& p : plan) out.push_back(p.op);
  return out;
}

TEST(Linearizable, TenThousandOpsOnOneKeyWithinSeconds) {
  std::vector<Op> h = Generate(10'000, 10, 42);
  absl::Time t0 = absl::Now();
  LinearizabilityReport r = CheckRegister(h);
  absl::Duration took = absl::Now() - t0;
  std::cout << "[ figure ] 10,000-op single-key history (10 processes, "
            << r.ops << " ops after dropping fails): " << VerdictName(r.verdict)
            << " in " << absl::FormatDuration(took) << "\n";
  EXPECT_EQ(r.verdict, Verdict::kValid) << r.Describe();
  EXPECT_LT(took, absl::Seconds(10));
}

TEST(Linearizable, CorruptedLongHistoryYieldsSmallWindow) {
  // Few info ops: each one pending at the anomaly doubles the states a
  // failing search must exhaust (README: keys rotate to keep this small).
  std::vector<Op> h = Generate(10'000, 10, 7, 2000);
  // Make a read in the middle return a value nobody wrote.
  for (size_t i = 5000; i < h.size(); ++i) {
    if (h[i].f == "read" && h[i].type == OpType::kOk) {
      h[i].has_value = true;
      h[i].value = {99};
      break;
    }
  }
  absl::Time t0 = absl::Now();
  LinearizabilityReport r = CheckRegister(h);
  std::cout << "[ figure ] corrupted 10,000-op history: "
            << VerdictName(r.verdict) << " in "
            << absl::FormatDuration(absl::Now() - t0) << "\n"
            << r.Describe();
  ASSERT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_EQ(r.failures[0].failing.value, std::vector<int64_t>{99});
  EXPECT_LE(r.failures[0].window.size(), 20u);
}

// The history of a register that a kill-all hit: in ops [outage_from,
// outage_to) every write and cas is indeterminate (each client then goes on
// under a new process id), and every read fails. The first version of the
// search kept every subset of the pending ones in its cache and gave up
// ("unknown") on such keys.
std::vector<Op> KillAllKey(uint64_t seed) {
  return Generate(300, 10, seed, 50, 100, 200);
}

int64_t InfoOps(const std::vector<Op>& h) {
  return std::count_if(h.begin(), h.end(),
                       [](const Op& op) { return op.type == OpType::kInfo; });
}

TEST(Linearizable, ManyIndeterminateWritesAreDecidedValid) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<Op> h = KillAllKey(seed);
    absl::Time t0 = absl::Now();
    LinearizabilityReport r = CheckRegister(h);
    absl::Duration took = absl::Now() - t0;
    if (seed == 1) {
      std::cout << "[ figure ] 300-op key with " << InfoOps(h)
                << " info ops: " << VerdictName(r.verdict) << " in "
                << absl::FormatDuration(took) << "\n";
    }
    ASSERT_EQ(r.verdict, Verdict::kValid) << "seed " << seed << "\n"
                                          << r.Describe();
    EXPECT_GE(InfoOps(h), 50);
    EXPECT_LT(took, absl::Seconds(2));
  }
}

// Moves every op from time `at` on by `gap` and puts `extra` in the gap.
// Ops running at `at` keep their start: they overlap the gap.
std::vector<Op> Insert(std::vector<Op> h, int64_t at, int64_t gap,
                       const std::vector<Op>& extra) {
  for (Op& op : h) {
    if (op.start >= at) op.start += gap;
    if (op.end >= at) op.end += gap;
  }
  h.insert(h.end(), extra.begin(), extra.end());
  std::sort(h.begin(), h.end(),
            [](const Op& x, const Op& y) { return x.start < y.start; });
  return h;
}

TEST(Linearizable, StaleReadAmongIndeterminateWritesIsInvalid) {
  // The injected bug: after an acknowledged write of 8, a read still sees
  // the 7 before it — inside the kill-all, while ~60 indeterminate writes
  // and cas (values 0..4, none can produce 7) are pending. Never valid, on
  // any seed; decided invalid within 200,000 states on 18 of 20 (seeds 6
  // and 17 need more: README "Checker", known limit).
  int decided = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<Op> h = KillAllKey(seed);
    const int64_t at = h[150].start;
    std::vector<Op> ok =
        Insert(h, at, 1000,
               {W(100, 7, at, at + 100), W(101, 8, at + 200, at + 300),
                R(102, 8, at + 400, at + 500)});
    ASSERT_EQ(CheckRegister(ok).verdict, Verdict::kValid) << "seed " << seed;
    std::vector<Op> bad =
        Insert(h, at, 1000,
               {W(100, 7, at, at + 100), W(101, 8, at + 200, at + 300),
                R(102, 7, at + 400, at + 500)});
    LinearizabilityOptions o;
    o.max_states = 200'000;  // a budget in states: the same on any load
    o.key_timeout = absl::Seconds(60);
    absl::Time t0 = absl::Now();
    LinearizabilityReport r = CheckRegister(bad, o);
    absl::Duration took = absl::Now() - t0;
    std::cout << "[ figure ] seed " << seed << ": stale read among "
              << InfoOps(bad) << " info ops: " << VerdictName(r.verdict)
              << " in " << absl::FormatDuration(took) << ", "
              << (r.failures.empty() ? 0 : r.failures[0].states_visited)
              << " states\n";
    if (seed == 1) std::cout << r.Describe();
    ASSERT_NE(r.verdict, Verdict::kValid) << "seed " << seed;
    if (r.verdict != Verdict::kInvalid) continue;
    ++decided;
    EXPECT_EQ(r.failures[0].failing.value, std::vector<int64_t>{7});
  }
  EXPECT_GE(decided, 18);
}

TEST(Linearizable, IndeterminateWriteMattersOnlyIfObserved) {
  // Info write 3 is needed to explain the read of 3...
  EXPECT_EQ(Check({W(1, 1, 0, 10), Info(W(2, 3, 5, 6)), W(3, 2, 20, 30),
                   R(4, 3, 40, 50)}),
            Verdict::kValid);
  // ...and may take effect only once: two reads of 3 around a write of 2
  // need two info writes of 3.
  EXPECT_EQ(Check({W(1, 1, 0, 10), Info(W(2, 3, 5, 6)), R(4, 3, 20, 30),
                   W(3, 2, 40, 50), R(4, 3, 60, 70)}),
            Verdict::kInvalid);
  EXPECT_EQ(Check({W(1, 1, 0, 10), Info(W(2, 3, 5, 6)), Info(W(5, 3, 7, 8)),
                   R(4, 3, 20, 30), W(3, 2, 40, 50), R(4, 3, 60, 70)}),
            Verdict::kValid);
  // A chain of info ops: write 3, then cas 3 -> 4, explains a read of 4.
  EXPECT_EQ(Check({W(1, 1, 0, 10), Info(W(2, 3, 5, 6)),
                   Info(Cas(5, 3, 4, 7, 8)), R(4, 4, 20, 30)}),
            Verdict::kValid);
  // An info op cannot take effect before it started.
  EXPECT_EQ(Check({W(1, 1, 0, 10), R(4, 3, 20, 30), Info(W(2, 3, 40, 41))}),
            Verdict::kInvalid);
}

// Brute force: every order of the ops that respects real time (a before b
// whenever a returned before b started; info ops never return), each info
// op placed or left out.
bool BruteForce(const std::vector<Op>& ops, std::vector<bool>& done,
                int64_t state) {
  const int n = static_cast<int>(ops.size());
  bool ok_left = false;
  for (int i = 0; i < n; ++i) ok_left |= !done[i] && ops[i].type == OpType::kOk;
  if (!ok_left) return true;
  for (int i = 0; i < n; ++i) {
    if (done[i]) continue;
    bool may_go_first = true;
    for (int j = 0; j < n; ++j) {
      may_go_first &=
          done[j] || ops[j].type != OpType::kOk || !(ops[j].end < ops[i].start);
    }
    if (!may_go_first) continue;
    const Op& op = ops[i];
    const int64_t read = op.has_value && !op.is_list ? op.scalar() : kNil;
    int64_t next = state;
    bool accepted = true;
    if (op.f == "read") {
      accepted = state == read;
    } else if (op.f == "write") {
      next = op.scalar();
    } else {
      accepted = state == op.value[0];
      next = op.value[1];
    }
    done[i] = true;
    if (accepted && BruteForce(ops, done, next)) return true;
    // An info op may also never take effect.
    if (op.type == OpType::kInfo && BruteForce(ops, done, state)) return true;
    done[i] = false;
  }
  return false;
}

TEST(Linearizable, RandomHistoriesAgreeWithBruteForce) {
  std::mt19937_64 rng(2026);
  int valid = 0, invalid = 0;
  for (int round = 0; round < 3000; ++round) {
    const int n = 2 + static_cast<int>(rng() % 6);
    std::vector<Op> h;
    for (int i = 0; i < n; ++i) {
      const int64_t start = static_cast<int64_t>(rng() % 40);
      const int64_t end = start + 1 + static_cast<int64_t>(rng() % 20);
      const int64_t v = static_cast<int64_t>(rng() % 3);
      const int kind = static_cast<int>(rng() % 3);
      Op op = kind == 0
                  ? (rng() % 4 == 0 ? Rnil(i, start, end) : R(i, v, start, end))
              : kind == 1
                  ? W(i, v, start, end)
                  : Cas(i, static_cast<int64_t>(rng() % 3), v, start, end);
      if (kind != 0 && rng() % 2 == 0) op = Info(op);
      h.push_back(op);
    }
    std::vector<bool> done(h.size(), false);
    const bool expect = BruteForce(h, done, kNil);
    const Verdict got = CheckRegisterKey(h).verdict;
    ASSERT_EQ(got, expect ? Verdict::kValid : Verdict::kInvalid)
        << "round " << round << ":\n"
        << [&] {
             std::string s;
             for (const Op& op : h) s += FormatOp(op) + "\n";
             return s;
           }();
    (expect ? valid : invalid)++;
  }
  // Both verdicts are well represented.
  EXPECT_GT(valid, 500);
  EXPECT_GT(invalid, 500);
}

}  // namespace
}  // namespace raftkv::jepsen
