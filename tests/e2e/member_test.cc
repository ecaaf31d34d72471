// Membership changes with etcdctl (docs/e2e.md, "member"): on a 3-member
// cluster, `member remove` of a follower stops it; `member add --learner`
// and a new member started with --initial-cluster-state=existing catches up
// (from a snapshot: the leader's log was compacted) with the same data and
// revision; `member promote` makes it a voter; `member update` and the
// error cases answer with etcd's messages. Run against raftkv and, when
// installed, against etcd itself with the same expectations.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::RunResult;

RunResult Etcdctl(const std::string& endpoint, std::vector<std::string> args) {
  std::vector<std::string> argv = {"etcdctl", "--endpoints=" + endpoint};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = raftkv::testing::RunProgram(argv, "", {"ETCDCTL_API=3"});
  std::printf("$ %s\n%s%s", absl::StrJoin(argv, " ").c_str(), r.out.c_str(),
              r.err.c_str());
  return r;
}

std::string Hex(uint64_t id) { return absl::StrCat(absl::Hex(id)); }

// `etcdctl member list` lines, which start with the member's hex ID.
int CountLines(const std::string& s, const std::string& needle) {
  int n = 0;
  for (size_t at = s.find(needle); at != std::string::npos;
       at = s.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// etcd refuses a change that needs every voter connected ("etcdserver:
// unhealthy cluster") until its peer streams have been up for 5 s
// (HealthInterval); raftkv checks only that they are up. Retries while so.
RunResult EtcdctlWhenHealthy(const std::string& endpoint,
                             std::vector<std::string> args) {
  RunResult r;
  WaitFor(
      [&] {
        r = Etcdctl(endpoint, args);
        return !absl::StrContains(r.err, "etcdserver: unhealthy cluster");
      },
      absl::Seconds(20), absl::Milliseconds(500));
  return r;
}

class MemberTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MemberTest, RemoveAddPromoteUpdate) {
  if (!raftkv::testing::HaveProgram("etcdctl") ||
      (GetParam() == "etcd" && !raftkv::testing::HaveProgram("etcd"))) {
    GTEST_SKIP() << "etcd/etcdctl not installed (scripts/install-deps.sh)";
  }
  ClusterOptions options;
  options.binary = GetParam();
  // Small, so that the leader compacts its log and the new member needs a
  // snapshot.
  options.snapshot_count = 100;
  ProcessCluster cluster(options);
  ASSERT_TRUE(cluster.Start(absl::Seconds(60)).ok()) << cluster.Logs();
  auto leader = cluster.WaitForLeader(absl::Seconds(10));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const std::string lead_ep = cluster.client_endpoint(*leader);
  {
    auto c = cluster.ClientOf(*leader, absl::Seconds(15));
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE(c->Put(absl::StrCat("member/k", i), absl::StrCat(i)).ok());
    }
  }

  // Errors, with etcd's messages.
  RunResult r = EtcdctlWhenHealthy(
      lead_ep, {"member", "add", "dup", "--peer-urls=" + cluster.peer_url(0)});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.err, "etcdserver: Peer URLs already exists"))
      << r.err;
  r = Etcdctl(lead_ep, {"member", "remove", "1234abcd"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.err, "etcdserver: member not found"))
      << r.err;
  const uint64_t leader_id = cluster.MemberId(*leader);
  r = Etcdctl(lead_ep, {"member", "promote", Hex(leader_id)});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(
      absl::StrContains(r.err, "etcdserver: can only promote a learner member"))
      << r.err;

  // Remove a follower: it stops.
  const int removed = (*leader + 1) % 3;
  const int kept = (*leader + 2) % 3;
  const uint64_t removed_id = cluster.MemberId(removed);
  ASSERT_NE(removed_id, 0u);
  r = EtcdctlWhenHealthy(lead_ep, {"member", "remove", Hex(removed_id)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(
      r.out, absl::StrCat(Hex(removed_id), " removed from cluster")))
      << r.out;
  EXPECT_TRUE(
      WaitFor([&] { return !cluster.Running(removed); }, absl::Seconds(20)))
      << cluster.Log(removed);
  std::printf("removed member exited with %d\n", cluster.ExitCode(removed));
  r = Etcdctl(lead_ep, {"member", "list"});
  EXPECT_EQ(CountLines(r.out, "started"), 2) << r.out;
  EXPECT_FALSE(absl::StrContains(r.out, Hex(removed_id))) << r.out;

  // Add a learner; promoting it before it runs fails (not in sync).
  const int added = cluster.AddMember({*leader, kept});
  r = Etcdctl(lead_ep, {"member", "add", cluster.name(added),
                        "--peer-urls=" + cluster.peer_url(added), "--learner"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "added to cluster")) << r.out;
  EXPECT_TRUE(
      absl::StrContains(r.out, "ETCD_INITIAL_CLUSTER_STATE=\"existing\""))
      << r.out;
  r = Etcdctl(lead_ep, {"member", "list"});
  EXPECT_TRUE(absl::StrContains(r.out, "unstarted")) << r.out;
  uint64_t learner_id = 0;
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    if (absl::StrContains(line, "unstarted")) {
      ASSERT_TRUE(
          absl::SimpleHexAtoi(line.substr(0, line.find(',')), &learner_id))
          << line;
    }
  }
  ASSERT_NE(learner_id, 0u) << r.out;
  r = Etcdctl(lead_ep, {"member", "promote", Hex(learner_id)});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.err,
                                "etcdserver: can only promote a learner "
                                "member which is in sync with leader"))
      << r.err;
  r = Etcdctl(lead_ep, {"member", "add", "second-learner",
                        "--peer-urls=http://127.0.0.1:1", "--learner"});
  EXPECT_TRUE(absl::StrContains(
      r.err, "etcdserver: too many learner members in cluster"))
      << r.err;

  // The new member joins and catches up: same data, same revision.
  ASSERT_TRUE(cluster.StartMember(added).ok());
  const absl::Time start = absl::Now();
  auto lead_client = cluster.ClientOf(*leader, absl::Seconds(15));
  auto want = ReadPrefix(*lead_client, "");
  ASSERT_TRUE(want.ok()) << want.status();
  auto mine = cluster.ClientOf(added, absl::Seconds(30));
  ASSERT_NE(mine, nullptr) << cluster.Log(added);
  {
    // As etcd, a joining member answers clients only once it has caught
    // up to its own join: its very first serializable read holds what was
    // written before the add (raftkv once answered from its empty store).
    auto first = ReadPrefix(*mine, "member/", /*serializable=*/true, 0);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(first->kvs.size(), 300u);
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        auto got = ReadPrefix(*mine, "", /*serializable=*/true, 0);
        return got.ok() && got->revision >= want->revision;
      },
      absl::Seconds(60)))
      << cluster.Log(added);
  std::printf("new member caught up in %s\n",
              absl::FormatDuration(absl::Now() - start).c_str());
  auto got = ReadPrefix(*mine, "", /*serializable=*/true, 0);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->revision, want->revision);
  ASSERT_EQ(got->kvs.size(), want->kvs.size());
  for (const auto& [key, kv] : want->kvs) {
    ASSERT_TRUE(got->kvs.count(key)) << key;
    EXPECT_EQ(got->kvs.at(key).value(), kv.value()) << key;
    EXPECT_EQ(got->kvs.at(key).mod_revision(), kv.mod_revision()) << key;
  }

  // Promote it once in sync (the leader decides).
  const uint64_t added_id = cluster.MemberId(added);
  ASSERT_EQ(added_id, learner_id);
  ASSERT_TRUE(WaitFor(
      [&] {
        r = Etcdctl(lead_ep, {"member", "promote", Hex(added_id)});
        return r.exit_code == 0;
      },
      absl::Seconds(30)))
      << r.err;
  EXPECT_TRUE(absl::StrContains(
      r.out, absl::StrCat(Hex(added_id), " promoted in cluster")))
      << r.out;

  // Update its peer URLs (to the same URL: it keeps working).
  r = Etcdctl(lead_ep, {"member", "update", Hex(added_id),
                        "--peer-urls=" + cluster.peer_url(added)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(
      r.out, absl::StrCat(Hex(added_id), " updated in cluster")))
      << r.out;

  // Three voters, all started, on every member.
  for (int i : {*leader, kept, added}) {
    ASSERT_TRUE(WaitFor(
        [&] {
          r = Etcdctl(cluster.client_endpoint(i), {"member", "list"});
          return CountLines(r.out, ", started, ") == 3 &&
                 absl::StrContains(r.out, cluster.name(added)) &&
                 !absl::StrContains(r.out, "true");  // no learner left
        },
        absl::Seconds(20)))
        << cluster.name(i) << ": " << r.out;
  }
  // The new voter takes part in writes.
  ASSERT_TRUE(lead_client->Put("member/after", "yes").ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        auto v = ReadPrefix(*mine, "member/after", /*serializable=*/true, 0);
        return v.ok() && v->kvs.size() == 1;
      },
      absl::Seconds(10)));
}

INSTANTIATE_TEST_SUITE_P(Servers, MemberTest,
                         ::testing::Values(std::string(RAFTKV_PATH),
                                           std::string("etcd")),
                         [](const auto& info) {
                           return info.index == 0 ? std::string("raftkv")
                                                  : std::string("etcd");
                         });

}  // namespace
}  // namespace raftkv::e2e
