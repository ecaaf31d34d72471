// The register linearizability checker on hand-written histories (ok, fail
// and info outcomes), counter-example windows, per-key partitioning, and a
// generated 10,000-op single-key history checked against a time budget.
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
std::vector<Op> Generate(int n, int processes, uint64_t seed,
                         int info_one_in = 50) {
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
    bool info = kind != 0 && rng() % info_one_in == 0;
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

}  // namespace
}  // namespace raftkv::jepsen
