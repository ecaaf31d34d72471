// Set and bank checkers.
#include "jepsen/checker/set_bank.h"

#include "gtest/gtest.h"
#include "jepsen/tests/test_ops.h"

namespace raftkv::jepsen {
namespace {

using namespace testing;  // NOLINT: test shorthand

Op Add(int64_t v, OpType t = OpType::kOk) {
  Op op = MakeOp(1, "add", {v}, false, 0, 1);
  op.type = t;
  return op;
}
Op SetRead(std::vector<int64_t> v) {
  return MakeOp(1, "read", std::move(v), true, 10, 11);
}

TEST(SetChecker, AllAcknowledgedPresent) {
  SetReport r = CheckSet({Add(1), Add(2), Add(3, OpType::kInfo),
                          Add(4, OpType::kFail), SetRead({1, 2, 3})});
  EXPECT_EQ(r.verdict, Verdict::kValid) << r.Describe();
  EXPECT_EQ(r.recovered, 1);
}

TEST(SetChecker, LostAndUnexpected) {
  SetReport r = CheckSet({Add(1), Add(2), SetRead({1})});
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_EQ(r.lost, std::vector<int64_t>{2});
  r = CheckSet({Add(1), Add(4, OpType::kFail), SetRead({1, 4, 5})});
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_EQ(r.unexpected_count, 2);
}

TEST(SetChecker, NoFinalReadIsUnknown) {
  EXPECT_EQ(CheckSet({Add(1)}).verdict, Verdict::kUnknown);
}

Op BankRead(std::vector<int64_t> v) {
  return MakeOp(1, "read", std::move(v), true, 0, 1, "linearizable");
}

TEST(BankChecker, TotalsAndNegatives) {
  EXPECT_EQ(
      CheckBank({BankRead({10, 10, 10}), BankRead({5, 15, 10})}, 3, 30).verdict,
      Verdict::kValid);
  EXPECT_EQ(CheckBank({BankRead({10, 10, 11})}, 3, 30).verdict,
            Verdict::kInvalid);
  EXPECT_EQ(CheckBank({BankRead({-5, 25, 10})}, 3, 30).verdict,
            Verdict::kInvalid);
  EXPECT_EQ(CheckBank({BankRead({15, 15})}, 3, 30).verdict, Verdict::kInvalid);
  Op failed = BankRead({1, 2, 3});
  failed.type = OpType::kFail;
  EXPECT_EQ(CheckBank({failed, BankRead({10, 10, 10})}, 3, 30).verdict,
            Verdict::kValid);
}

}  // namespace
}  // namespace raftkv::jepsen
