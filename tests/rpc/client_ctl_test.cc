// raftkvctl against etcdctl: runs the CtlCompatCases() script with each tool
// on a fresh single-member etcd with identical configuration (so cluster and
// member IDs, terms and revisions match) and requires identical stdout,
// stderr (minus clientv3's log lines) and exit codes.
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/rpc/client_ctl_cases.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::testing {
namespace {

std::vector<RunResult> RunScript(const std::string& program,
                                 const ServerConfig& config,
                                 const std::string& dead) {
  EtcdServer server(config);
  absl::Status started = server.Start();
  EXPECT_TRUE(started.ok()) << started;
  std::vector<RunResult> results;
  if (!started.ok()) return results;
  for (const CtlCase& c : CtlCompatCases()) {
    std::vector<std::string> argv = {program};
    for (std::string& a : ExpandCtlArgs(c, server.endpoint(), dead)) {
      argv.push_back(std::move(a));
    }
    results.push_back(RunProgram(argv, c.input, {"ETCDCTL_API=3"}));
  }
  return results;
}

TEST(ClientCtlTest, OutputMatchesEtcdctl) {
  if (!HaveProgram("etcd") || !HaveProgram("etcdctl")) {
    GTEST_SKIP() << "etcd/etcdctl not installed (scripts/install-deps.sh)";
  }
  const ServerConfig config = ServerConfig::WithFreePorts();
  const std::string dead = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  std::vector<RunResult> want = RunScript("etcdctl", config, dead);
  std::vector<RunResult> got = RunScript(RAFTKVCTL_PATH, config, dead);
  ASSERT_EQ(want.size(), CtlCompatCases().size());
  ASSERT_EQ(got.size(), want.size());
  // Guard against a harness that compares two equally broken runs.
  int succeeded_with_output = 0;
  for (const RunResult& r : want) {
    succeeded_with_output += r.exit_code == 0 && !r.out.empty();
  }
  EXPECT_GE(succeeded_with_output, 45);
  for (size_t i = 0; i < want.size(); ++i) {
    const CtlCase& c = CtlCompatCases()[i];
    SCOPED_TRACE("case " + std::to_string(i) + ": " +
                 absl::StrJoin(c.args, " "));
    EXPECT_EQ(NormalizeCtlOutput(got[i].out), NormalizeCtlOutput(want[i].out));
    EXPECT_EQ(NormalizeCtlOutput(got[i].err), NormalizeCtlOutput(want[i].err));
    EXPECT_EQ(got[i].exit_code, want[i].exit_code);
  }
}

// --count-only is a 3.5 flag that etcdctl 3.4 lacks: check it directly.
TEST(ClientCtlTest, CountOnly) {
  if (!HaveProgram("etcd")) GTEST_SKIP() << "etcd not installed";
  EtcdServer server(ServerConfig::WithFreePorts());
  ASSERT_TRUE(server.Start().ok()) << server.LogTail();
  const std::string ep = "--endpoints=" + server.endpoint();
  for (const char* key : {"c1", "c2", "c3"}) {
    ASSERT_EQ(RunProgram({RAFTKVCTL_PATH, ep, "put", key, "v"}).exit_code, 0);
  }
  RunResult r = RunProgram({RAFTKVCTL_PATH, ep, "get", "c", "--prefix",
                            "--count-only", "-w", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"count\":3"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\"kvs\""), std::string::npos) << r.out;
}

}  // namespace
}  // namespace raftkv::testing
