// Bar 6 of issue 4: a five-member cluster stays writable after losing two
// members (the leader among them); after losing a third, writes fail with
// etcd's errors for a cluster without quorum (UNAVAILABLE, "etcdserver:
// request timed out" or "etcdserver: no leader"); restarting the lost
// members restores service, with nothing acknowledged lost.
#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster.h"

namespace raftkv::e2e {
namespace {

TEST(FiveMembersTest, LoseTwoThenThreeThenHeal) {
  ClusterOptions options;
  options.size = 5;
  ProcessCluster cluster(options);
  ASSERT_TRUE(cluster.Start(absl::Seconds(60)).ok()) << cluster.Logs();
  auto all = cluster.ClientOfAll(absl::Seconds(15));
  ASSERT_NE(all, nullptr);
  ASSERT_TRUE(all->Put("five/start", "1").ok());

  // Lose two: the leader and one follower.
  auto leader = cluster.WaitForLeader(absl::Seconds(10));
  ASSERT_TRUE(leader.ok()) << leader.status();
  std::vector<int> lost = {*leader, (*leader + 1) % 5};
  for (int i : lost) cluster.Kill(i);
  std::vector<int> alive;
  for (int i = 0; i < 5; ++i) {
    if (cluster.Running(i)) alive.push_back(i);
  }
  ASSERT_TRUE(cluster.WaitForLeader(absl::Seconds(30), alive).ok());
  for (int i : alive) {
    auto c = cluster.ClientOf(i, absl::Seconds(15));
    auto put = c->Put(absl::StrCat("five/two-lost/", i), "ok");
    EXPECT_TRUE(put.ok()) << cluster.name(i) << ": " << put.status();
  }

  // Lose a third: two of five remain, no quorum.
  const int third = alive.front();
  cluster.Kill(third);
  lost.push_back(third);
  alive.erase(alive.begin());
  const std::set<std::string> kNoQuorum = {"etcdserver: request timed out",
                                           "etcdserver: no leader"};
  for (int i : alive) {
    // The server gives up after its request timeout (5 s + 2 election
    // timeouts); the client waits longer so that the server's error shows.
    auto c = cluster.ClientOf(i, absl::Seconds(20));
    const absl::Time start = absl::Now();
    auto put = c->Put(absl::StrCat("five/three-lost/", i), "no");
    std::printf("%s: put without quorum failed after %s: %s\n",
                cluster.name(i).c_str(),
                absl::FormatDuration(absl::Now() - start).c_str(),
                put.status().ToString().c_str());
    ASSERT_FALSE(put.ok()) << cluster.name(i) << " accepted a write";
    EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable)
        << put.status();
    EXPECT_TRUE(kNoQuorum.count(std::string(put.status().message())))
        << put.status();
  }

  // Heal: the three come back; service resumes and the data is intact.
  for (int i : lost) ASSERT_TRUE(cluster.StartMember(i).ok());
  ASSERT_TRUE(cluster.WaitForLeader(absl::Seconds(60)).ok()) << cluster.Logs();
  all = cluster.ClientOfAll(absl::Seconds(15));  // fresh channels
  ASSERT_NE(all, nullptr);
  // Service is restored when a write succeeds. A write proposed while the
  // healed cluster still settles may time out (seen in about 1 of 8 runs:
  // "etcdserver: request timed out" once, then success), so retry within a
  // deadline and report each failure with the members' view of the leader.
  const absl::Time healed = absl::Now();
  absl::StatusOr<etcdserverpb::PutResponse> put;
  ASSERT_TRUE(WaitFor(
      [&] {
        put = all->Put("five/healed", "ok");
        if (put.ok()) return true;
        std::string view;
        for (int i = 0; i < 5; ++i) {
          auto st = cluster.Status(i);
          absl::StrAppend(&view, " ", cluster.name(i), ":",
                          st.ok() ? absl::StrCat("leader=", st->leader(),
                                                 ",term=", st->raftterm())
                                  : "down");
        }
        std::printf("healed write failed: %s;%s\n",
                    put.status().ToString().c_str(), view.c_str());
        return false;
      },
      absl::Seconds(60)))
      << put.status();
  std::printf("first write after healing succeeded after %s\n",
              absl::FormatDuration(absl::Now() - healed).c_str());
  for (int i = 0; i < 5; ++i) {
    auto c = cluster.ClientOf(i, absl::Seconds(15));
    ASSERT_TRUE(WaitFor(
        [&] {
          auto r = ReadPrefix(*c, "five/", /*serializable=*/true, 0);
          return r.ok() && r->revision >= put->header().revision();
        },
        absl::Seconds(30)))
        << cluster.name(i) << " did not catch up";
    auto r = ReadPrefix(*c, "five/", /*serializable=*/true, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->kvs.count("five/start")) << cluster.name(i);
    EXPECT_TRUE(r->kvs.count("five/healed")) << cluster.name(i);
    int two_lost = 0;
    for (const auto& [key, kv] : r->kvs) {
      two_lost += key.rfind("five/two-lost/", 0) == 0;
    }
    EXPECT_EQ(two_lost, 3) << cluster.name(i);
  }
}

}  // namespace
}  // namespace raftkv::e2e
