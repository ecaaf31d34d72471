// etcd's v3lock service (rpc/server/lock_service.h) on 3 real raftkv
// processes: mutual exclusion under concurrent read-modify-write, interop
// with `etcdctl lock` (etcd's client-side mutex, same key layout) in both
// directions, a holder SIGKILLed (the waiter gets the lock when the lease
// runs out, not before), and the Raft leader killed while the lock is held.
//
// Lease TTLs are a few seconds; assertions about time keep a margin of at
// least 1.5 s for a loaded machine, and every other wait polls a condition
// with a deadline.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rpc/v3lock.grpc.pb.h"
#include "tests/e2e/lease_util.h"
#include "tests/e2e/process_cluster.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::HaveProgram;
using raftkv::testing::RunProgram;
using raftkv::testing::RunResult;

std::unique_ptr<ProcessCluster> StartCluster() {
  auto cluster = std::make_unique<ProcessCluster>(ClusterOptions{});
  absl::Status s = cluster->Start();
  EXPECT_TRUE(s.ok()) << s << "\n" << cluster->Logs();
  if (!s.ok()) return nullptr;
  return cluster;
}

std::unique_ptr<v3lockpb::Lock::Stub> LockStub(const ProcessCluster& c,
                                               int member) {
  return v3lockpb::Lock::NewStub(grpc::CreateChannel(
      c.client_endpoint(member), grpc::InsecureChannelCredentials()));
}

absl::StatusOr<v3lockpb::LockResponse> Lock(v3lockpb::Lock::Stub& stub,
                                            const std::string& name,
                                            int64_t lease,
                                            absl::Duration timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v3lockpb::LockRequest req;
  req.set_name(name);
  req.set_lease(lease);
  v3lockpb::LockResponse resp;
  grpc::Status s = stub.Lock(&ctx, req, &resp);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return resp;
}

absl::Status Unlock(v3lockpb::Lock::Stub& stub, const std::string& key) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v3lockpb::UnlockRequest req;
  req.set_key(key);
  v3lockpb::UnlockResponse resp;
  grpc::Status s = stub.Unlock(&ctx, req, &resp);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return absl::OkStatus();
}

// The keys under "<name>/" (linearizable, with failover).
std::vector<std::string> LockKeys(client::Client& c, const std::string& name) {
  std::vector<std::string> keys;
  auto read = ReadPrefix(c, name + "/");
  if (!read.ok()) return {"<error: " + read.status().ToString() + ">"};
  for (const auto& [k, kv] : read->kvs) keys.push_back(k);
  return keys;
}

// A Lock call on its own thread, for a waiter the test acts around.
class PendingLock {
 public:
  PendingLock(const ProcessCluster& c, int member, std::string name,
              int64_t lease, absl::Duration timeout)
      : stub_(LockStub(c, member)) {
    thread_ = std::thread([this, name, lease, timeout] {
      auto r = Lock(*stub_, name, lease, timeout);
      absl::MutexLock l(&mu_);
      result_ = std::move(r);
      done_at_ = absl::Now();
    });
  }
  ~PendingLock() { thread_.join(); }

  bool done() {
    absl::MutexLock l(&mu_);
    return result_.has_value();
  }
  // Waits for the call to end; its result and when it ended.
  absl::StatusOr<v3lockpb::LockResponse> Wait(absl::Time* done_at = nullptr) {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](std::optional<absl::StatusOr<v3lockpb::LockResponse>>* r) {
          return r->has_value();
        },
        &result_));
    if (done_at != nullptr) *done_at = done_at_;
    return *result_;
  }

 private:
  std::unique_ptr<v3lockpb::Lock::Stub> stub_;
  absl::Mutex mu_;
  std::optional<absl::StatusOr<v3lockpb::LockResponse>> result_
      ABSL_GUARDED_BY(mu_);
  absl::Time done_at_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Clients on all three members increment one counter under the lock with a
// Range then a Put (no compare): any overlap of two holders shows up as a
// lost update, or in the count of holders inside at once.
TEST(LockTest, MutualExclusionUnderReadModifyWrite) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  constexpr int kClients = 4;
  constexpr int kRounds = 6;
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::atomic<int> failures{0};
  auto setup = cluster->ClientOfAll();
  ASSERT_TRUE(setup->Put("counter", "0").ok());
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      const int member = i % cluster->size();
      auto kv = cluster->ClientOf(member);
      auto stub = LockStub(*cluster, member);
      auto lease = GrantLease(*kv, 30);
      if (!lease.ok()) {
        ++failures;
        return;
      }
      for (int r = 0; r < kRounds; ++r) {
        auto held = Lock(*stub, "mutex", *lease, absl::Seconds(20));
        if (!held.ok()) {
          ADD_FAILURE() << "Lock: " << held.status();
          ++failures;
          return;
        }
        const int now = ++inside;
        int seen = max_inside.load();
        while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
        }
        auto got = kv->Get("counter");
        int value = 0;
        if (!got.ok() || got->kvs_size() != 1 ||
            !absl::SimpleAtoi(got->kvs(0).value(), &value) ||
            !kv->Put("counter", absl::StrCat(value + 1)).ok()) {
          ++failures;
        }
        --inside;
        if (absl::Status s = Unlock(*stub, held->key()); !s.ok()) {
          ADD_FAILURE() << "Unlock: " << s;
          ++failures;
        }
      }
      (void)RevokeLease(*kv, *lease);
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(max_inside.load(), 1);
  auto got = setup->Get("counter");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->kvs_size(), 1);
  EXPECT_EQ(got->kvs(0).value(), absl::StrCat(kClients * kRounds));
  EXPECT_TRUE(LockKeys(*setup, "mutex").empty());
}

// etcdctl's lock (clientv3/concurrency on the client) holds: the Lock RPC
// waits, and when its deadline passes it leaves no key behind. Then the
// etcdctl process is SIGKILLed: its lease is no longer renewed, and the
// waiting Lock call gets the lock when that lease runs out, not before.
TEST(LockTest, EtcdctlHolderBlocksRpcUntilItsLeaseExpires) {
  if (!HaveProgram("etcdctl")) GTEST_SKIP() << "no etcdctl";
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  auto kv = cluster->ClientOfAll();
  constexpr int kTtl = 3;
  raftkv::testing::TempDir dir;
  BackgroundProcess holder(
      {"etcdctl", "--endpoints=" + cluster->client_endpoint(0), "lock",
       absl::StrCat("--ttl=", kTtl), "ctl-lock"},
      dir.path() + "/etcdctl.log");
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(holder.Output(), "ctl-lock/"); },
              absl::Seconds(15)))
      << holder.Output();
  ASSERT_EQ(LockKeys(*kv, "ctl-lock").size(), 1u);

  auto stub = LockStub(*cluster, 1);
  auto lease = GrantLease(*kv, 30);
  ASSERT_TRUE(lease.ok()) << lease.status();
  auto blocked = Lock(*stub, "ctl-lock", *lease, absl::Seconds(1));
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kDeadlineExceeded)
      << blocked.status();
  // The abandoned waiter deleted its key (etcd's Mutex.Lock does).
  EXPECT_TRUE(WaitFor([&] { return LockKeys(*kv, "ctl-lock").size() == 1; },
                      absl::Seconds(5)));

  PendingLock waiter(*cluster, 2, "ctl-lock", *lease, absl::Seconds(30));
  // The waiter's key is in place before the holder dies.
  ASSERT_TRUE(WaitFor([&] { return LockKeys(*kv, "ctl-lock").size() == 2; },
                      absl::Seconds(10)));
  const absl::Time killed = absl::Now();
  holder.Stop();
  absl::Time acquired;
  auto got = waiter.Wait(&acquired);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->key(), absl::StrFormat("ctl-lock/%x", *lease));
  // etcdctl renews every TTL/3, so at least 2/3 of the TTL remained.
  EXPECT_GE(acquired - killed, absl::Seconds(kTtl) - absl::Seconds(1.5));
  EXPECT_LE(acquired - killed, absl::Seconds(kTtl) + absl::Seconds(10));
  EXPECT_EQ(LockKeys(*kv, "ctl-lock"), std::vector<std::string>{got->key()});
  EXPECT_TRUE(Unlock(*stub, got->key()).ok());
  (void)RevokeLease(*kv, *lease);
}

// The Lock RPC holds: etcdctl lock waits; after Unlock it gets the lock.
TEST(LockTest, RpcHolderBlocksEtcdctl) {
  if (!HaveProgram("etcdctl")) GTEST_SKIP() << "no etcdctl";
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  auto kv = cluster->ClientOfAll();
  auto lease = GrantLease(*kv, 30);
  ASSERT_TRUE(lease.ok()) << lease.status();
  auto stub = LockStub(*cluster, 0);
  auto held = Lock(*stub, "rpc-lock", *lease, absl::Seconds(10));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->key(), absl::StrFormat("rpc-lock/%x", *lease));
  EXPECT_GT(held->header().revision(), 0);

  // A short session TTL: the key of the etcdctl killed while it waits
  // stays until its lease runs out, and the next etcdctl waits for it.
  const std::vector<std::string> ctl = {
      "etcdctl",  "--endpoints=" + cluster->client_endpoint(1),
      "lock",     "--ttl=2",
      "rpc-lock", "echo",
      "acquired"};
  RunResult blocked = RunProgram(ctl, "", {"ETCDCTL_API=3"}, absl::Seconds(2));
  EXPECT_FALSE(absl::StrContains(blocked.out, "acquired")) << blocked.out;
  ASSERT_TRUE(Unlock(*stub, held->key()).ok());
  RunResult got = RunProgram(ctl, "", {"ETCDCTL_API=3"}, absl::Seconds(20));
  EXPECT_EQ(got.exit_code, 0) << got.err;
  EXPECT_TRUE(absl::StrContains(got.out, "acquired")) << got.out << got.err;
  (void)RevokeLease(*kv, *lease);
}

// SIGKILL of the Raft leader while a follower's Lock call holds the lock:
// the lock stays held (the waiter on the other follower keeps waiting once a
// new leader is elected) until Unlock, then the waiter gets it.
TEST(LockTest, LeaderKilledWhileHeld) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  auto leader = cluster->WaitForLeader(absl::Seconds(10));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int a = (*leader + 1) % 3;
  const int b = (*leader + 2) % 3;
  auto kv = cluster->ClientOfMembers({a, b});
  auto lease_a = GrantLease(*kv, 20);
  auto lease_b = GrantLease(*kv, 20);
  ASSERT_TRUE(lease_a.ok() && lease_b.ok());
  auto stub = LockStub(*cluster, a);
  auto held = Lock(*stub, "failover-lock", *lease_a, absl::Seconds(10));
  ASSERT_TRUE(held.ok()) << held.status();
  PendingLock waiter(*cluster, b, "failover-lock", *lease_b, absl::Seconds(30));
  ASSERT_TRUE(
      WaitFor([&] { return LockKeys(*kv, "failover-lock").size() == 2; },
              absl::Seconds(10)));

  cluster->Kill(*leader);
  ASSERT_TRUE(cluster->WaitForLeader(absl::Seconds(15), {a, b}).ok());
  // A write through the new leader is applied on both: everything before it
  // (the kill, any lease revocation the new leader would make) has been seen.
  ASSERT_TRUE(kv->Put("failover-probe", "x").ok());
  EXPECT_FALSE(WaitFor([&] { return waiter.done(); }, absl::Seconds(2)));
  EXPECT_EQ(LockKeys(*kv, "failover-lock").size(), 2u);

  ASSERT_TRUE(Unlock(*stub, held->key()).ok());
  auto got = waiter.Wait();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->key(), absl::StrFormat("failover-lock/%x", *lease_b));
  EXPECT_TRUE(Unlock(*stub, got->key()).ok());
}

}  // namespace
}  // namespace raftkv::e2e
