// End-to-end smoke run of raftkv-bench (a few seconds): a real one-member
// raftkv on free loopback ports, `put --total 500`, then linearizable and
// serializable `range`, checking the exit code and the report's fields. The
// same put and a watch-latency run go against etcd 3.4 when it is installed.
//
// Waits poll a condition until a deadline; every process is killed and
// reaped by its owner.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/client/client.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::testing {
namespace {

using ::testing::HasSubstr;

// A one-member raftkv in a temporary directory; killed by the destructor.
class RaftkvMember {
 public:
  RaftkvMember() : config_(ServerConfig::WithFreePorts()) {}
  ~RaftkvMember() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  absl::Status Start() {
    const std::string client_url =
        absl::StrCat("http://127.0.0.1:", config_.client_port);
    const std::string peer_url =
        absl::StrCat("http://127.0.0.1:", config_.peer_port);
    std::vector<std::string> argv = {
        RAFTKV_PATH,
        "--name=m1",
        "--data-dir=" + dir_.path() + "/data",
        "--listen-client-urls=" + client_url,
        "--listen-peer-urls=" + peer_url,
        "--initial-advertise-peer-urls=" + peer_url,
        "--initial-cluster=m1=" + peer_url,
    };
    const std::string log = dir_.path() + "/raftkv.log";
    std::vector<char*> c_argv;
    for (std::string& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      execv(c_argv[0], c_argv.data());
      _exit(127);
    }
    if (pid_ < 0) return absl::InternalError("fork failed");
    // Serving means: a linearizable read succeeds (so there is a leader).
    client::Options options;
    options.dial_timeout = absl::ZeroDuration();
    options.call_timeout = absl::Milliseconds(500);
    auto c = client::Client::Connect({endpoint()}, options);
    if (!c.ok()) return c.status();
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    absl::Status last;
    while (absl::Now() < deadline) {
      auto r = (*c)->Get("smoke");
      if (r.ok()) return absl::OkStatus();
      last = r.status();
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("raftkv not serving: ", last.ToString()));
  }

  std::string endpoint() const { return config_.client_endpoint(); }

 private:
  ServerConfig config_;
  TempDir dir_;
  pid_t pid_ = -1;
};

RunResult Bench(std::vector<std::string> args) {
  args.insert(args.begin(), RAFTKV_BENCH_PATH);
  return RunProgram(args, "", {}, absl::Seconds(60));
}

void ExpectTextReport(const RunResult& r, const std::string& name,
                      int requests) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& field :
       {absl::StrCat("Summary (", name, ")"),
        absl::StrCat(requests, " ok, 0 errors"), std::string("Throughput:"),
        std::string("p50 "), std::string("p90 "), std::string("p99 "),
        std::string("p99.9 "), std::string("max "),
        std::string("Response time histogram")}) {
    EXPECT_THAT(r.out, HasSubstr(field)) << r.out << r.err;
  }
}

TEST(BenchSmokeTest, PutThenRangeOnRaftkv) {
  RaftkvMember member;
  ASSERT_TRUE(member.Start().ok());
  const RunResult put =
      Bench({"put", "--endpoints", member.endpoint(), "--total", "500",
             "--clients", "8", "--conns", "2", "--val-size", "64",
             "--key-space-size", "100", "--sequential-keys"});
  ExpectTextReport(put, "put", 500);

  const RunResult range =
      Bench({"range", "00000001", "--endpoints", member.endpoint(), "--total",
             "500", "--clients", "8", "--consistency", "l"});
  ExpectTextReport(range, "range", 500);

  const RunResult json = Bench(
      {"range", "0000", "--prefix", "--endpoints", member.endpoint(), "--total",
       "200", "--clients", "4", "--consistency", "s", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("{\"workload\":\"range\""));
  EXPECT_THAT(json.out, HasSubstr("\"requests\":200,\"errors\":0"));
  EXPECT_THAT(json.out, HasSubstr("\"p99.9\":"));
}

TEST(BenchSmokeTest, MixedAndTxnPutOnRaftkv) {
  RaftkvMember member;
  ASSERT_TRUE(member.Start().ok());
  const RunResult mixed = Bench(
      {"mixed", "--endpoints", member.endpoint(), "--total", "300", "--clients",
       "4", "--key-space-size", "50", "--read-ratio", "0.5"});
  EXPECT_EQ(mixed.exit_code, 0) << mixed.err;
  EXPECT_THAT(mixed.out, HasSubstr("Summary (range)"));
  EXPECT_THAT(mixed.out, HasSubstr("Summary (put)"));
  const RunResult txn =
      Bench({"txn-put", "--endpoints", member.endpoint(), "--total", "100",
             "--clients", "4", "--txn-ops", "4", "--key-space-size", "1000"});
  ExpectTextReport(txn, "txn-put", 100);
}

TEST(BenchSmokeTest, ProgressLinesAndOpenLoopRate) {
  RaftkvMember member;
  ASSERT_TRUE(member.Start().ok());
  // 40 requests at 20/s take about two seconds: at least one progress line.
  const RunResult r = Bench({"put", "--endpoints", member.endpoint(), "--total",
                             "40", "--rate", "20", "--clients", "2"});
  ExpectTextReport(r, "put", 40);
  EXPECT_THAT(r.err, HasSubstr("req/s"));
}

TEST(BenchSmokeTest, UnreachableEndpointFails) {
  const RunResult r = Bench({"put", "--endpoints",
                             absl::StrCat("127.0.0.1:", FreeLoopbackPort()),
                             "--total", "3", "--progress=false"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("first error"));
}

TEST(BenchSmokeTest, PutAndWatchLatencyOnEtcd) {
  if (!HaveProgram("etcd")) GTEST_SKIP() << "etcd is not installed";
  EtcdServer etcd(ServerConfig::WithFreePorts());
  ASSERT_TRUE(etcd.Start().ok()) << etcd.LogTail();
  const RunResult put = Bench({"put", "--endpoints", etcd.endpoint(), "--total",
                               "500", "--clients", "8", "--conns", "2"});
  ExpectTextReport(put, "put", 500);
  const RunResult watch =
      Bench({"watch-latency", "--endpoints", etcd.endpoint(), "--watchers",
             "10", "--streams", "2", "--total", "50", "--put-rate", "200"});
  // 50 puts x 10 watchers events.
  ExpectTextReport(watch, "watch-latency", 500);
  EXPECT_THAT(watch.out, HasSubstr("Summary (put)"));
}

}  // namespace
}  // namespace raftkv::testing
