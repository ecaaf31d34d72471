// HTTP/1.1 next to gRPC on the client URL (rpc/http/client_mux.h), as etcd
// serves it: real curl and real etcdctl against one http:// URL of each
// member of a 3-member cluster, and a member listening on port 0.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::HaveProgram;
using raftkv::testing::RunProgram;
using raftkv::testing::RunResult;

struct CurlResult {
  int code = 0;  // HTTP status; 0 if curl failed
  std::string body;
};

// GET `url` with curl; the status line's code is appended by -w.
CurlResult Curl(const std::string& url) {
  RunResult r =
      RunProgram({"curl", "-s", "--max-time", "5", "-w", "\n%{http_code}", url},
                 "", {}, absl::Seconds(10));
  CurlResult out;
  const size_t nl = r.out.rfind('\n');
  if (r.exit_code != 0 || nl == std::string::npos) return out;
  out.body = r.out.substr(0, nl);
  if (!absl::SimpleAtoi(r.out.substr(nl + 1), &out.code)) out.code = 0;
  return out;
}

RunResult Etcdctl(const std::string& endpoint,
                  const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"etcdctl", "--endpoints=" + endpoint,
                                   "--dial-timeout=5s",
                                   "--command-timeout=10s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, "", {"ETCDCTL_API=3"}, absl::Seconds(20));
}

// curl's /health, /version and /metrics and etcdctl's put and get, all on
// the http:// client URL `url`.
void ExpectHttpAndGrpcOn(const std::string& url, const std::string& key) {
  SCOPED_TRACE(url);
  CurlResult health;
  // A member just elected may still be finishing its first read index.
  EXPECT_TRUE(WaitFor(
      [&] {
        health = Curl(url + "/health");
        return health.code == 200;
      },
      absl::Seconds(15)))
      << health.code << " " << health.body;
  EXPECT_TRUE(absl::StrContains(health.body, R"("health":"true")"))
      << health.body;

  const CurlResult version = Curl(url + "/version");
  EXPECT_EQ(version.code, 200);
  EXPECT_TRUE(absl::StrContains(version.body, R"("etcdserver":")"))
      << version.body;

  const CurlResult metrics = Curl(url + "/metrics");
  EXPECT_EQ(metrics.code, 200);
  EXPECT_TRUE(absl::StrContains(metrics.body, "etcd_server_has_leader 1"))
      << metrics.body;
  EXPECT_TRUE(absl::StrContains(
      metrics.body, "raftkv_client_connections_total{kind=\"http\"}"))
      << metrics.body;

  EXPECT_EQ(Curl(url + "/no-such-path").code, 404);

  RunResult put = Etcdctl(url, {"put", key, "v-" + key});
  EXPECT_EQ(put.exit_code, 0) << put.out << put.err;
  EXPECT_EQ(absl::StripAsciiWhitespace(put.out), "OK");
  RunResult get = Etcdctl(url, {"get", key, "--print-value-only"});
  EXPECT_EQ(get.exit_code, 0) << get.out << get.err;
  EXPECT_EQ(absl::StripAsciiWhitespace(get.out), "v-" + key);
}

class ClientPortHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(HaveProgram("curl"));
    ASSERT_TRUE(HaveProgram("etcdctl"));
  }
};

TEST_F(ClientPortHttpTest, CurlAndEtcdctlShareEachMembersClientUrl) {
  ProcessCluster cluster(ClusterOptions{});
  ASSERT_TRUE(cluster.Start().ok()) << cluster.Logs();
  for (int i = 0; i < cluster.size(); ++i) {
    ExpectHttpAndGrpcOn(cluster.client_url(i), absl::StrCat("key", i));
  }
  // Every member saw both kinds of connection on its one client port.
  for (int i = 0; i < cluster.size(); ++i) {
    EXPECT_GE(
        cluster.Metric(i, "raftkv_client_connections_total{kind=\"grpc\"}"), 1)
        << i;
    EXPECT_GE(
        cluster.Metric(i, "raftkv_client_connections_total{kind=\"http\"}"), 4)
        << i;
  }
}

TEST_F(ClientPortHttpTest, ClientUrlWithPortZeroServesOnTheLoggedPort) {
  ClusterOptions options;
  options.member_flags[2] = {"--listen-client-urls=http://127.0.0.1:0"};
  ProcessCluster cluster(options);
  for (int i = 0; i < cluster.size(); ++i) {
    ASSERT_TRUE(cluster.StartMember(i).ok());
  }
  const std::string line =
      "serving gRPC and HTTP on client URL http://127.0.0.1:0 at port ";
  int port = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string log = cluster.Log(2);
        const size_t at = log.find(line);
        if (at == std::string::npos) return false;
        const size_t begin = at + line.size();
        const size_t end = log.find('\n', begin);
        return absl::SimpleAtoi(log.substr(begin, end - begin), &port);
      },
      absl::Seconds(30)))
      << cluster.Logs();
  ASSERT_GT(port, 0);
  ExpectHttpAndGrpcOn(absl::StrCat("http://127.0.0.1:", port), "zero");
  // The other members see what m3 wrote through its port-0 URL.
  RunResult get =
      Etcdctl(cluster.client_url(0), {"get", "zero", "--print-value-only"});
  EXPECT_EQ(absl::StripAsciiWhitespace(get.out), "v-zero") << get.err;
}

}  // namespace
}  // namespace raftkv::e2e
