// Lease checker: hand-written histories with a 4 s TTL and a 7 s margin.
#include "jepsen/checker/lease.h"

#include "gtest/gtest.h"

namespace raftkv::jepsen {
namespace {

constexpr int64_t kMargin = 7'000'000'000;
const std::string kKey = "jl/0/0";

int64_t S(double seconds) { return static_cast<int64_t>(seconds * 1e9); }

Op L(std::string f, std::vector<int64_t> value, double start, double end,
     OpType type = OpType::kOk) {
  Op op;
  op.f = std::move(f);
  op.key = kKey;
  op.has_value = op.is_list = true;
  op.value = std::move(value);
  op.start = S(start);
  op.end = S(end);
  op.type = type;
  return op;
}
Op Read(bool present, double at) {
  return L("read", {present ? 1 : 0}, at, at + 0.05);
}

// Grant (TTL 4) at 0, put, keep-alives at 1 and 2, reads while alive, then
// the owner stops; deadline = 2.1 + 4 + 7 = 13.1 s.
std::vector<Op> Base() {
  return {L("grant", {4, 7}, 0, 0.1),
          L("put", {7}, 0.1, 0.2),
          L("keepalive", {7, 4}, 1, 1.1),
          Read(true, 1.5),
          L("keepalive", {7, 4}, 2, 2.1),
          Read(true, 3),
          Read(true, 7),  // no longer certainly alive, still present: fine
          Read(false, 9)};
}

TEST(LeaseChecker, ValidHistory) {
  LeaseReport r = CheckLease(Base(), kMargin);
  EXPECT_EQ(r.verdict, Verdict::kValid) << r.Describe();
  EXPECT_EQ(r.leases, 1);
  EXPECT_EQ(r.expiry_checked, 1);
  EXPECT_EQ(r.kept_reads, 2);
  EXPECT_EQ(r.continuously_kept, 1);
}

TEST(LeaseChecker, PresentAfterDeadlineIsExpiredViolation) {
  std::vector<Op> h = Base();
  h.back() = Read(true, 14);
  LeaseReport r = CheckLease(h, kMargin);
  EXPECT_EQ(r.verdict, Verdict::kInvalid) << r.Describe();
  EXPECT_EQ(r.violations.count("expired"), 1u);
}

TEST(LeaseChecker, InfoKeepAliveMayHaveRenewed) {
  std::vector<Op> h = Base();
  h.back() = Read(true, 14);
  // Timed out at 6: it may have renewed the lease; deadline 6 + 4 + 7 = 17.
  h.push_back(L("keepalive", {7}, 5, 6, OpType::kInfo));
  EXPECT_EQ(CheckLease(h, kMargin).verdict, Verdict::kValid);
  h.push_back(Read(true, 17.5));
  EXPECT_EQ(CheckLease(h, kMargin).verdict, Verdict::kInvalid);
}

TEST(LeaseChecker, FaultWindowsMoveTheDeadline) {
  std::vector<Op> h = Base();
  h.back() = Read(true, 14);
  // No leader from 10 to 12 (before the deadline 13.1): a new leader may
  // give the lease its TTL again, so the deadline becomes 12 + 4 + 7 = 23.
  std::vector<Fault> faults = {{S(10), S(12)}, {S(30), S(31)}};
  EXPECT_EQ(CheckLease(h, kMargin, faults).verdict, Verdict::kValid);
  h.push_back(Read(true, 23.5));
  EXPECT_EQ(CheckLease(h, kMargin, faults).verdict, Verdict::kInvalid);
  // A window that starts after the deadline changes nothing.
  faults = {{S(13.5), S(15)}};
  EXPECT_EQ(CheckLease(h, kMargin, faults).verdict, Verdict::kInvalid);
}

TEST(LeaseChecker, FinalReadAfterDeadline) {
  std::vector<Op> h = Base();
  h.pop_back();
  Op final_read = L("final-read", {}, 20, 20.1);
  final_read.key = "jl";
  final_read.has_value = false;
  final_read.events = {{0, 0}};  // jl/0/0 still there
  h.push_back(final_read);
  LeaseReport r = CheckLease(h, kMargin);
  EXPECT_EQ(r.verdict, Verdict::kInvalid) << r.Describe();
  h.back().events.clear();
  EXPECT_EQ(CheckLease(h, kMargin).verdict, Verdict::kValid);
}

TEST(LeaseChecker, MissingWhileKeptAlive) {
  std::vector<Op> h = Base();
  h.push_back(Read(false, 2.5));  // inside [2.1, 2 + 4]
  LeaseReport r = CheckLease(h, kMargin);
  EXPECT_EQ(r.verdict, Verdict::kInvalid) << r.Describe();
  EXPECT_EQ(r.violations.count("kept_alive"), 1u);
}

TEST(LeaseChecker, LeaseGoneAtKeepAliveWhileKeptAlive) {
  std::vector<Op> h = Base();
  h.push_back(L("keepalive", {7, 0}, 3, 3.1));  // TTL 0: not found
  EXPECT_EQ(CheckLease(h, kMargin).violations.count("kept_alive"), 1u);
}

TEST(LeaseChecker, MissingAfterRenewalsStoppedIsFine) {
  std::vector<Op> h = Base();
  h.push_back(Read(false, 6.5));  // 6.5 > 2 + 4: may have expired
  EXPECT_EQ(CheckLease(h, kMargin).verdict, Verdict::kValid);
}

TEST(LeaseChecker, IndeterminatePutIsNotKeptAliveChecked) {
  std::vector<Op> h = Base();
  h[1].type = OpType::kInfo;
  h.push_back(Read(false, 2.5));  // the put may never have applied
  EXPECT_EQ(CheckLease(h, kMargin).verdict, Verdict::kValid);
  h.push_back(Read(true, 14));  // but if it did, the key must expire
  EXPECT_EQ(CheckLease(h, kMargin).verdict, Verdict::kInvalid);
}

TEST(LeaseChecker, NoLeaseIsUnknown) {
  EXPECT_EQ(CheckLease({L("grant", {4}, 0, 1, OpType::kInfo)}, kMargin).verdict,
            Verdict::kUnknown);
}

}  // namespace
}  // namespace raftkv::jepsen
