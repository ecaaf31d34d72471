// Maintenance.MoveLeader through etcdctl, as etcd's e2e
// TestCtlV3MoveLeaderScenarios drives it: right after a fresh 3-member
// cluster starts, a transfer asked of the leader finishes within etcdctl's
// 5 s command timeout (it used to wait behind a request timeout on the
// server's timer thread); asking a follower, or naming a non-member, fails
// with etcd's messages; asking again once the target leads succeeds.
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::HaveProgram;
using raftkv::testing::RunProgram;
using raftkv::testing::RunResult;

RunResult MoveLeader(const std::vector<std::string>& endpoints,
                     uint64_t target) {
  return RunProgram({"etcdctl", "--command-timeout=5s",
                     "--endpoints=" + absl::StrJoin(endpoints, ","),
                     "move-leader", absl::StrFormat("%x", target)},
                    "", {"ETCDCTL_API=3"}, absl::Seconds(30));
}

TEST(MoveLeaderTest, RightAfterStartAndAgain) {
  if (!HaveProgram("etcdctl")) GTEST_SKIP() << "etcdctl not installed";
  ClusterOptions options;
  options.heartbeat_ms = 0;  // etcd's default timings, as its e2e suite
  options.election_ms = 0;
  ProcessCluster cluster(options);
  ASSERT_TRUE(cluster.Start(absl::Seconds(60)).ok()) << cluster.Logs();
  auto leader = cluster.WaitForLeader(absl::Seconds(30));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int from = *leader;
  const int to = (from + 1) % 3;
  const int other = (from + 2) % 3;
  const uint64_t from_id = cluster.MemberId(from);
  const uint64_t to_id = cluster.MemberId(to);
  ASSERT_NE(from_id, 0u);
  ASSERT_NE(to_id, 0u);

  RunResult r = MoveLeader({cluster.client_endpoint(other)}, to_id);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no leader endpoint given at"), std::string::npos)
      << r.out << r.err;

  r = MoveLeader({cluster.client_endpoint(from)}, to_id);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << cluster.Logs();
  EXPECT_NE(r.out.find(absl::StrFormat("Leadership transferred from %x to %x",
                                       from_id, to_id)),
            std::string::npos)
      << r.out << r.err;
  leader = cluster.WaitForLeader(absl::Seconds(30));
  ASSERT_TRUE(leader.ok()) << leader.status();
  EXPECT_EQ(*leader, to);

  // The target already leads: etcd answers success.
  r = MoveLeader(cluster.client_endpoints(), to_id);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Leadership transferred"), std::string::npos)
      << r.out << r.err;

  r = MoveLeader(cluster.client_endpoints(), 0x1234);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("etcdserver: bad leader transferee"), std::string::npos)
      << r.out << r.err;
}

}  // namespace
}  // namespace raftkv::e2e
