// Lessor (kv/lessor.h) on a manual clock: promotion uses the checkpointed
// remaining TTL (else the full TTL) plus the extension, renewal resets to
// the full TTL and asks for a checkpoint reset, a follower (demoted lessor)
// never expires anything, and a new leader refuses renewals until promoted.
#include "kv/lessor.h"

#include <vector>

#include "gtest/gtest.h"

namespace raftkv::kv {
namespace {

class LessorTest : public ::testing::Test {
 protected:
  LessorTest() : lessor_([this] { return now_; }) {}

  void Advance(absl::Duration d) { now_ += d; }
  std::vector<int64_t> Expired() {
    return lessor_.Expired(1000, absl::Seconds(1000));
  }
  void Checkpoint(int64_t id, int64_t remaining) {
    kvpb::LeaseCheckpoint cp;
    kvpb::LeaseRecord* r = cp.add_leases();
    r->set_id(id);
    r->set_remaining_ttl(remaining);
    lessor_.Checkpointed(cp);
  }

  absl::Time now_ = absl::FromUnixSeconds(1'000'000);
  Lessor lessor_;
};

TEST_F(LessorTest, PromotionUsesFullTtlPlusExtension) {
  lessor_.Granted(1, 10);
  lessor_.Promote(absl::Seconds(1));
  EXPECT_EQ(lessor_.Remaining(1).remaining, 11);
  EXPECT_EQ(lessor_.Remaining(1).granted, 10);
  Advance(absl::Milliseconds(10999));
  EXPECT_TRUE(Expired().empty());
  Advance(absl::Milliseconds(2));
  EXPECT_EQ(Expired(), std::vector<int64_t>{1});
}

TEST_F(LessorTest, PromotionUsesCheckpointedRemainingTtl) {
  lessor_.Granted(1, 100);
  lessor_.Granted(2, 100);
  Checkpoint(1, 7);  // lease 2 has no checkpoint: full TTL
  // A follower reports the checkpointed value.
  EXPECT_EQ(lessor_.Remaining(1).remaining, 7);
  lessor_.Promote(absl::Seconds(1));
  EXPECT_EQ(lessor_.Remaining(1).remaining, 8);
  EXPECT_EQ(lessor_.Remaining(2).remaining, 101);
  Advance(absl::Milliseconds(8001));
  EXPECT_EQ(Expired(), std::vector<int64_t>{1});
}

TEST_F(LessorTest, ResetRestoresCheckpointsAfterRestart) {
  kvpb::LeaseRecord r;
  r.set_id(4);
  r.set_ttl(60);
  r.set_remaining_ttl(20);
  lessor_.Reset({r});
  lessor_.Promote(absl::ZeroDuration());
  EXPECT_EQ(lessor_.Remaining(4).remaining, 20);
  EXPECT_EQ(lessor_.Remaining(4).granted, 60);
}

TEST_F(LessorTest, RenewResetsToFullTtlAndAsksForCheckpointReset) {
  lessor_.Granted(1, 30);
  Checkpoint(1, 5);
  lessor_.Promote(absl::ZeroDuration());
  Advance(absl::Seconds(4));
  bool reset = false;
  auto ttl = lessor_.Renew(1, &reset);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(*ttl, 30);
  EXPECT_TRUE(reset);  // the checkpointed 5 s must not survive the renewal
  EXPECT_EQ(lessor_.Remaining(1).remaining, 30);
  Advance(absl::Seconds(29));
  EXPECT_TRUE(Expired().empty());

  // Once the reset (a checkpoint of 0) is applied, renewals need none.
  Checkpoint(1, 0);
  ttl = lessor_.Renew(1, &reset);
  ASSERT_TRUE(ttl.ok());
  EXPECT_FALSE(reset);
  // And a new leader would use the full TTL again.
  lessor_.Demote();
  lessor_.Promote(absl::ZeroDuration());
  EXPECT_EQ(lessor_.Remaining(1).remaining, 30);
}

TEST_F(LessorTest, RenewOfUnknownLeaseAnswersZero) {
  lessor_.Promote(absl::ZeroDuration());
  bool reset = true;
  auto ttl = lessor_.Renew(42, &reset);
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(*ttl, 0);
  EXPECT_FALSE(reset);
}

// Regression: a new leader answered keep-alives with TTL 0 ("lease not
// found") until its lessor loop promoted it, and clientv3 then stopped
// keeping the lease alive. Renew must report "not primary" instead.
TEST_F(LessorTest, RenewBeforePromotionIsNotPrimary) {
  lessor_.Granted(1, 30);
  bool reset = false;
  auto ttl = lessor_.Renew(1, &reset);
  EXPECT_EQ(ttl.status().code(), absl::StatusCode::kFailedPrecondition);
  lessor_.Promote(absl::ZeroDuration());
  lessor_.Demote();
  ttl = lessor_.Renew(1, &reset);
  EXPECT_EQ(ttl.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LessorTest, DemoteStopsExpiry) {
  lessor_.Granted(1, 2);
  lessor_.Promote(absl::ZeroDuration());
  Advance(absl::Seconds(1));
  lessor_.Demote();
  EXPECT_FALSE(lessor_.is_primary());
  Advance(absl::Hours(1));
  EXPECT_TRUE(Expired().empty());
  EXPECT_EQ(lessor_.Checkpoint(10).leases_size(), 0);
  // A follower's grant has no clock either.
  lessor_.Granted(2, 2);
  Advance(absl::Hours(1));
  EXPECT_TRUE(Expired().empty());
}

TEST_F(LessorTest, ExpiredIsRateLimitedAndRetriedAfterRetryInterval) {
  for (int64_t id = 1; id <= 5; ++id) lessor_.Granted(id, 1);
  lessor_.Promote(absl::ZeroDuration());
  Advance(absl::Seconds(2));
  EXPECT_EQ(lessor_.Expired(3, absl::Seconds(5)),
            (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(lessor_.Expired(3, absl::Seconds(5)), (std::vector<int64_t>{4, 5}));
  EXPECT_TRUE(lessor_.Expired(3, absl::Seconds(5)).empty());
  // The revokes were lost (no Revoked applied): proposed again later.
  Advance(absl::Seconds(6));
  EXPECT_EQ(lessor_.Expired(10, absl::Seconds(5)).size(), 5u);
  lessor_.Revoked(3);
  Advance(absl::Seconds(6));
  EXPECT_EQ(lessor_.Expired(10, absl::Seconds(5)),
            (std::vector<int64_t>{1, 2, 4, 5}));
}

TEST_F(LessorTest, CheckpointPagesThroughAllLeases) {
  for (int64_t id = 1; id <= 25; ++id) lessor_.Granted(id, 100);
  lessor_.Promote(absl::ZeroDuration());
  Advance(absl::Seconds(30));
  std::vector<int64_t> seen;
  int64_t after = 0;
  for (;;) {
    kvpb::LeaseCheckpoint cp = lessor_.Checkpoint(10, after);
    if (cp.leases_size() == 0) break;
    for (const auto& r : cp.leases()) {
      seen.push_back(r.id());
      EXPECT_EQ(r.remaining_ttl(), 70);
    }
    after = cp.leases(cp.leases_size() - 1).id();
  }
  ASSERT_EQ(seen.size(), 25u);
  for (int64_t i = 0; i < 25; ++i) EXPECT_EQ(seen[i], i + 1);
}

}  // namespace
}  // namespace raftkv::kv
