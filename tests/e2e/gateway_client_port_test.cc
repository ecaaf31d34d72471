// The JSON gateway as users reach it: real curl against the client URLs of a
// 3-member raftkv cluster (gRPC and HTTP/1.1 share the port, rpc/http/), as
// etcd 3.4's own e2e curl tests do. Skipped without curl.
//
// Every wait polls a condition with a deadline; a streaming curl runs as a
// child writing to a file, and is killed and reaped by its owner.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::RunProgram;
using raftkv::testing::RunResult;

// curl -sS -X POST -d `body` http://<member i><path>: its stdout.
std::string Curl(ProcessCluster& c, int i, const std::string& path,
                 const std::string& body, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {"curl", "-sS", "-m", "10", "-X", "POST"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("-d");
  argv.push_back(body);
  argv.push_back(absl::StrCat("http://", c.client_endpoint(i), path));
  RunResult r = RunProgram(argv, "", {}, absl::Seconds(15));
  EXPECT_EQ(r.exit_code, 0) << path << ": " << r.err;
  return r.out;
}

// A curl that keeps streaming into a file until destroyed.
class StreamingCurl {
 public:
  StreamingCurl(const std::string& url, const std::string& body,
                const std::string& out_path)
      : out_path_(out_path) {
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      execlp("curl", "curl", "-sS", "-N", "-X", "POST", "-d", body.c_str(),
             url.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~StreamingCurl() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::string Output() const {
    std::ifstream in(out_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string out_path_;
  pid_t pid_ = -1;
};

class GatewayClientPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!raftkv::testing::HaveProgram("curl")) GTEST_SKIP() << "no curl";
    cluster_ = std::make_unique<ProcessCluster>(ClusterOptions{});
    absl::Status s = cluster_->Start();
    ASSERT_TRUE(s.ok()) << s << "\n" << cluster_->Logs();
    // Every member knows the leader before the first request (a follower
    // that does not yet answers "etcdserver: no leader", as etcd).
    auto leader = cluster_->WaitForLeader(absl::Seconds(30));
    ASSERT_TRUE(leader.ok()) << leader.status() << "\n" << cluster_->Logs();
  }
  std::unique_ptr<ProcessCluster> cluster_;
};

TEST_F(GatewayClientPortTest, KvLeaseClusterWatchAndErrorsWithCurl) {
  ProcessCluster& c = *cluster_;
  std::string out =
      Curl(c, 0, "/v3/kv/put", R"({"key":"Zm9v","value":"YmFy"})");
  EXPECT_TRUE(absl::StrContains(out, R"("revision":")")) << out;
  // Read from another member, and through etcd 3.4's /v3beta/ prefix.
  out = Curl(c, 1, "/v3beta/kv/range", R"({"key":"Zm9v"})");
  EXPECT_TRUE(absl::StrContains(out, R"("value":"YmFy")")) << out;
  out = Curl(c, 2, "/v3/kv/txn",
             R"({"compare":[{"key":"Zm9v","result":"EQUAL","target":"VALUE",)"
             R"("value":"YmFy"}],"success":[{"request_put":)"
             R"({"key":"Zm9v","value":"YmF6"}}]})");
  EXPECT_TRUE(absl::StrContains(out, R"("succeeded":true)")) << out;
  out = Curl(c, 0, "/v3/kv/deleterange", R"({"key":"Zm9v","prev_kv":true})");
  EXPECT_TRUE(absl::StrContains(out, R"("deleted":"1")")) << out;
  EXPECT_TRUE(absl::StrContains(out, R"("value":"YmF6")")) << out;
  out = Curl(c, 0, "/v3/kv/compaction", R"({"revision":3})");
  EXPECT_TRUE(absl::StrContains(out, R"("header":{)")) << out;

  // Leases; a keepalive needs the followers to reach the leader, which they
  // may not yet right after the start.
  out = Curl(c, 0, "/v3/lease/grant", R"({"ID":4242,"TTL":60})");
  EXPECT_TRUE(absl::StrContains(out, R"("ID":"4242")")) << out;
  ASSERT_TRUE(WaitFor(
      [&] {
        out = Curl(c, 1, "/v3/lease/keepalive", R"({"ID":4242})");
        return absl::StrContains(out, R"({"result":{"header":)");
      },
      absl::Seconds(10), absl::Milliseconds(200)))
      << out;
  EXPECT_TRUE(absl::StrContains(out, R"("TTL":"60")")) << out;
  // A follower asks the leader at its published client URL, which it may
  // not have applied yet right after the start ("etcdserver: no leader").
  ASSERT_TRUE(WaitFor(
      [&] {
        out = Curl(c, 2, "/v3/lease/timetolive", R"({"ID":4242,"keys":true})");
        return absl::StrContains(out, R"("grantedTTL":"60")");
      },
      absl::Seconds(10), absl::Milliseconds(200)))
      << out;
  out = Curl(c, 0, "/v3/lease/leases", "{}");
  EXPECT_TRUE(absl::StrContains(out, R"("ID":"4242")")) << out;
  out = Curl(c, 0, "/v3/lease/revoke", R"({"ID":4242})");
  EXPECT_TRUE(absl::StrContains(out, R"("revision":")")) << out;
  out = Curl(c, 0, "/v3/kv/lease/revoke", R"({"ID":4242})",
             {"-w", "\n%{http_code}"});
  EXPECT_EQ(out,
            "{\"error\":\"etcdserver: requested lease not found\","
            "\"message\":\"etcdserver: requested lease not found\","
            "\"code\":5}\n404")
      << out;

  out = Curl(c, 1, "/v3/cluster/member/list", "{}");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(absl::StrContains(out, absl::StrCat(R"("name":")", c.name(i))))
        << out;
  }
  out = Curl(c, 2, "/v3/maintenance/status", "{}");
  EXPECT_TRUE(absl::StrContains(out, R"("version":"3.4)")) << out;

  out = Curl(c, 0, "/v3/kv/put", "{not json", {"-w", "\n%{http_code}"});
  EXPECT_TRUE(absl::StartsWith(out, R"({"error":")")) << out;
  EXPECT_TRUE(absl::EndsWith(out, ",\"code\":3}\n400")) << out;
}

TEST_F(GatewayClientPortTest, WatchStreamsAPutMadeAfterItStarted) {
  ProcessCluster& c = *cluster_;
  raftkv::testing::TempDir dir;
  StreamingCurl watch(
      absl::StrCat("http://", c.client_endpoint(1), "/v3/watch"),
      R"({"create_request":{"key":"d2F0Y2g="}})", dir.path() + "/watch.out");
  ASSERT_TRUE(WaitFor(
      [&] { return absl::StrContains(watch.Output(), R"("created":true)"); },
      absl::Seconds(10)))
      << watch.Output();
  std::string out =
      Curl(c, 2, "/v3/kv/put", R"({"key":"d2F0Y2g=","value":"bGF0ZXI="})");
  EXPECT_TRUE(absl::StrContains(out, R"("revision":")")) << out;
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(watch.Output(), R"("value":"bGF0ZXI=")");
      },
      absl::Seconds(10)))
      << watch.Output();
  EXPECT_TRUE(absl::StrContains(watch.Output(), R"({"result":{"header":)"))
      << watch.Output();
}

}  // namespace
}  // namespace raftkv::e2e
