// etcd's v3election service (rpc/server/election_service.h) on 3 real
// raftkv processes: two campaigners on different members, proclaims and
// hand-overs seen by Observe on a third, Leader's answers and etcd's errors,
// and a hand-over when the leader's lease expires.
//
// Lease TTLs are a few seconds; assertions about time keep a margin of at
// least 1.5 s for a loaded machine, and every other wait polls a condition
// with a deadline.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rpc/v3election.grpc.pb.h"
#include "tests/e2e/lease_util.h"
#include "tests/e2e/process_cluster.h"

namespace raftkv::e2e {
namespace {

using v3electionpb::CampaignResponse;
using v3electionpb::Election;
using v3electionpb::LeaderKey;
using v3electionpb::LeaderResponse;

std::unique_ptr<Election::Stub> ElectionStub(const ProcessCluster& c,
                                             int member) {
  return Election::NewStub(grpc::CreateChannel(
      c.client_endpoint(member), grpc::InsecureChannelCredentials()));
}

void SetDeadline(grpc::ClientContext& ctx, absl::Duration timeout) {
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

// A Campaign call on its own thread.
class PendingCampaign {
 public:
  PendingCampaign(const ProcessCluster& c, int member, std::string name,
                  int64_t lease, std::string value, absl::Duration timeout)
      : stub_(ElectionStub(c, member)) {
    thread_ = std::thread([this, name, lease, value, timeout] {
      grpc::ClientContext ctx;
      SetDeadline(ctx, timeout);
      v3electionpb::CampaignRequest req;
      req.set_name(name);
      req.set_lease(lease);
      req.set_value(value);
      CampaignResponse resp;
      grpc::Status s = stub_->Campaign(&ctx, req, &resp);
      absl::MutexLock l(&mu_);
      status_ = s;
      resp_ = resp;
      done_at_ = absl::Now();
    });
  }
  ~PendingCampaign() { thread_.join(); }

  bool done() {
    absl::MutexLock l(&mu_);
    return status_.has_value();
  }
  grpc::Status Wait(CampaignResponse* resp, absl::Time* done_at = nullptr) {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](std::optional<grpc::Status>* s) { return s->has_value(); },
        &status_));
    *resp = resp_;
    if (done_at != nullptr) *done_at = done_at_;
    return *status_;
  }

 private:
  std::unique_ptr<Election::Stub> stub_;
  absl::Mutex mu_;
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);
  CampaignResponse resp_ ABSL_GUARDED_BY(mu_);
  absl::Time done_at_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// An Observe stream read on its own thread.
class Observer {
 public:
  Observer(const ProcessCluster& c, int member, const std::string& name)
      : stub_(ElectionStub(c, member)) {
    SetDeadline(ctx_, absl::Seconds(50));
    v3electionpb::LeaderRequest req;
    req.set_name(name);
    reader_ = stub_->Observe(&ctx_, req);
    thread_ = std::thread([this] {
      LeaderResponse resp;
      while (reader_->Read(&resp)) {
        absl::MutexLock l(&mu_);
        values_.push_back(resp.kv().value());
      }
    });
  }
  ~Observer() {
    ctx_.TryCancel();
    thread_.join();
    reader_->Finish();
  }
  std::vector<std::string> values() {
    absl::MutexLock l(&mu_);
    return values_;
  }
  // Waits until the last value seen is `value`.
  bool WaitForLast(const std::string& value, absl::Duration timeout) {
    return WaitFor(
        [&] {
          auto v = values();
          return !v.empty() && v.back() == value;
        },
        timeout);
  }

 private:
  std::unique_ptr<Election::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<LeaderResponse>> reader_;
  absl::Mutex mu_;
  std::vector<std::string> values_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

grpc::Status Proclaim(Election::Stub& stub, const LeaderKey& leader,
                      const std::string& value) {
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Seconds(5));
  v3electionpb::ProclaimRequest req;
  *req.mutable_leader() = leader;
  req.set_value(value);
  v3electionpb::ProclaimResponse resp;
  return stub.Proclaim(&ctx, req, &resp);
}

grpc::Status Leader(Election::Stub& stub, const std::string& name,
                    LeaderResponse* resp) {
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Seconds(5));
  v3electionpb::LeaderRequest req;
  req.set_name(name);
  return stub.Leader(&ctx, req, resp);
}

grpc::Status Resign(Election::Stub& stub, const LeaderKey& leader) {
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Seconds(5));
  v3electionpb::ResignRequest req;
  *req.mutable_leader() = leader;
  v3electionpb::ResignResponse resp;
  return stub.Resign(&ctx, req, &resp);
}

std::unique_ptr<ProcessCluster> StartCluster() {
  auto cluster = std::make_unique<ProcessCluster>(ClusterOptions{});
  absl::Status s = cluster->Start();
  EXPECT_TRUE(s.ok()) << s << "\n" << cluster->Logs();
  if (!s.ok()) return nullptr;
  return cluster;
}

TEST(ElectionTest, CampaignProclaimObserveResign) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  auto kv = cluster->ClientOfAll();
  auto lease_a = GrantLease(*kv, 30);
  auto lease_b = GrantLease(*kv, 30);
  ASSERT_TRUE(lease_a.ok() && lease_b.ok());
  auto stub = ElectionStub(*cluster, 2);

  // No candidate yet: etcd's error, and an observer that waits.
  LeaderResponse none;
  grpc::Status s = Leader(*stub, "e", &none);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(s.error_message(), "election: no leader");
  Observer observer(*cluster, 2, "e");

  CampaignResponse a;
  PendingCampaign campaign_a(*cluster, 0, "e", *lease_a, "a1",
                             absl::Seconds(10));
  ASSERT_TRUE(campaign_a.Wait(&a).ok());
  EXPECT_EQ(a.leader().name(), "e");
  EXPECT_EQ(a.leader().key(), absl::StrFormat("e/%x", *lease_a));
  EXPECT_EQ(a.leader().lease(), *lease_a);
  EXPECT_GT(a.leader().rev(), 0);
  EXPECT_TRUE(observer.WaitForLast("a1", absl::Seconds(10)));

  PendingCampaign campaign_b(*cluster, 1, "e", *lease_b, "b1",
                             absl::Seconds(40));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = ReadPrefix(*kv, "e/");
        return r.ok() && r->kvs.size() == 2;
      },
      absl::Seconds(10)));

  ASSERT_TRUE(Proclaim(*stub, a.leader(), "a2").ok());
  EXPECT_TRUE(observer.WaitForLast("a2", absl::Seconds(10)));
  LeaderResponse current;
  ASSERT_TRUE(Leader(*stub, "e", &current).ok());
  EXPECT_EQ(current.kv().key(), a.leader().key());
  EXPECT_EQ(current.kv().value(), "a2");
  EXPECT_FALSE(campaign_b.done());

  // A stale LeaderKey (other create revision) may not proclaim; no leader
  // key at all is refused with etcd's message.
  LeaderKey stale = a.leader();
  stale.set_rev(a.leader().rev() - 1);
  s = Proclaim(*stub, stale, "bogus");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(s.error_message(), "election: not leader");
  {
    grpc::ClientContext ctx;
    SetDeadline(ctx, absl::Seconds(5));
    v3electionpb::ProclaimRequest req;
    v3electionpb::ProclaimResponse resp;
    s = stub->Proclaim(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNKNOWN);
    EXPECT_EQ(s.error_message(), "\"leader\" field must be provided");
  }

  ASSERT_TRUE(Resign(*stub, a.leader()).ok());
  CampaignResponse b;
  ASSERT_TRUE(campaign_b.Wait(&b).ok());
  EXPECT_EQ(b.leader().key(), absl::StrFormat("e/%x", *lease_b));
  EXPECT_TRUE(observer.WaitForLast("b1", absl::Seconds(10)));
  EXPECT_EQ(observer.values(), (std::vector<std::string>{"a1", "a2", "b1"}));
  // The old leader's proclaim fails now.
  s = Proclaim(*stub, a.leader(), "a3");
  EXPECT_EQ(s.error_message(), "election: not leader");
  ASSERT_TRUE(Leader(*stub, "e", &current).ok());
  EXPECT_EQ(current.kv().value(), "b1");
}

TEST(ElectionTest, LeaderLeaseExpiryHandsOver) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  auto kv = cluster->ClientOfAll();
  constexpr int kTtl = 3;
  const absl::Time before_grant = absl::Now();
  auto lease_a = GrantLease(*kv, kTtl);
  auto lease_b = GrantLease(*kv, 30);
  ASSERT_TRUE(lease_a.ok() && lease_b.ok());
  auto stub = ElectionStub(*cluster, 0);
  CampaignResponse a;
  PendingCampaign campaign_a(*cluster, 0, "x", *lease_a, "a",
                             absl::Seconds(10));
  ASSERT_TRUE(campaign_a.Wait(&a).ok());
  Observer observer(*cluster, 1, "x");
  EXPECT_TRUE(observer.WaitForLast("a", absl::Seconds(10)));

  PendingCampaign campaign_b(*cluster, 2, "x", *lease_b, "b",
                             absl::Seconds(30));
  CampaignResponse b;
  absl::Time won;
  ASSERT_TRUE(campaign_b.Wait(&b, &won).ok());
  // Not before the lease ran out; soon after (expiry is checked by the
  // Raft leader's lessor).
  EXPECT_GE(won - before_grant, absl::Seconds(kTtl) - absl::Seconds(0.5));
  EXPECT_LE(won - before_grant, absl::Seconds(kTtl) + absl::Seconds(10));
  EXPECT_EQ(b.leader().key(), absl::StrFormat("x/%x", *lease_b));
  EXPECT_TRUE(observer.WaitForLast("b", absl::Seconds(10)));
  LeaderResponse current;
  ASSERT_TRUE(Leader(*stub, "x", &current).ok());
  EXPECT_EQ(current.kv().value(), "b");

  // The last candidate's lease revoked: no leader again.
  ASSERT_TRUE(RevokeLease(*kv, *lease_b).ok());
  grpc::Status s = Leader(*stub, "x", &current);
  EXPECT_EQ(s.error_message(), "election: no leader");
}

}  // namespace
}  // namespace raftkv::e2e
