// Issue 5, bar point 1: Debian's etcdctl `watch` (key, prefix, range, --rev,
// --prev-kv) prints the same against a raftkv member as against an etcd 3.4
// member, and raftkvctl prints it too. Each watch starts in the past, so its
// output is complete at once; the watcher is stopped by a timeout (exit code
// ignored: etcdctl watch never ends by itself).
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/e2e/process_cluster.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::HaveProgram;
using raftkv::testing::RunProgram;

const std::vector<std::vector<std::string>>& Cases() {
  static const auto* cases = new std::vector<std::vector<std::string>>{
      {"watch", "foo", "--rev=1"},
      {"watch", "foo", "--rev=3", "--prev-kv"},
      {"watch", "foo", "--prefix", "--rev=1"},
      {"watch", "foo", "--prefix", "--rev=2", "--prev-kv"},
      {"watch", "foo", "fop", "--rev=1"},
      {"watch", "nothing", "--rev=1"},
  };
  return *cases;
}

// Runs the write script, then every case; returns the outputs.
std::vector<std::string> RunAgainst(const std::string& binary,
                                    const std::string& ctl) {
  ClusterOptions o;
  o.binary = binary;
  o.size = 1;
  ProcessCluster cluster(o);
  absl::Status s = cluster.Start();
  EXPECT_TRUE(s.ok()) << s;
  if (!s.ok()) return {};
  const std::string ep = "--endpoints=" + cluster.client_endpoint(0);
  const std::vector<std::vector<std::string>> writes = {
      {"put", "foo", "1"},        {"put", "foo", "2"},
      {"put", "foobar", "x"},     {"del", "foo"},
      {"put", "fop", "y"},        {"put", "foo", "3"},
      {"del", "foo", "--prefix"},
  };
  for (const auto& w : writes) {
    std::vector<std::string> argv = {"etcdctl", ep};
    argv.insert(argv.end(), w.begin(), w.end());
    EXPECT_EQ(RunProgram(argv).exit_code, 0);
  }
  std::vector<std::string> out;
  for (const auto& c : Cases()) {
    std::vector<std::string> argv = {ctl, ep};
    argv.insert(argv.end(), c.begin(), c.end());
    out.push_back(
        RunProgram(argv, "", {"ETCDCTL_API=3"}, absl::Seconds(2)).out);
  }
  return out;
}

TEST(WatchEtcdctlTest, EtcdctlWatchPrintsTheSameAgainstRaftkvAndEtcd) {
  if (!HaveProgram("etcd") || !HaveProgram("etcdctl")) {
    GTEST_SKIP() << "etcd or etcdctl not installed";
  }
  const auto etcd = RunAgainst("etcd", "etcdctl");
  const auto raftkv = RunAgainst(RAFTKV_PATH, "etcdctl");
  const auto ctl = RunAgainst(RAFTKV_PATH, RAFTKVCTL_PATH);
  ASSERT_EQ(etcd.size(), Cases().size());
  ASSERT_EQ(raftkv.size(), Cases().size());
  ASSERT_EQ(ctl.size(), Cases().size());
  for (size_t i = 0; i < Cases().size(); ++i) {
    std::string name;
    for (const auto& a : Cases()[i]) name += a + " ";
    EXPECT_FALSE(etcd[i].empty() && i + 1 < Cases().size()) << name;
    EXPECT_EQ(raftkv[i], etcd[i]) << "etcdctl " << name;
    EXPECT_EQ(ctl[i], etcd[i]) << "raftkvctl " << name;
  }
}

}  // namespace
}  // namespace raftkv::e2e
