// Issue 17: unix:// peer and client URLs, as etcd reads them (the URL's
// "host:port" is the socket file's name). A three-member cluster whose
// members talk Raft over unix sockets only, one of them serving clients on
// a unix socket as well: etcdctl and curl reach it there, and a write
// through it is read back from a member on TCP.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::FreeLoopbackPort;
using raftkv::testing::RunProgram;
using raftkv::testing::RunResult;

// One raftkv process, started in directory `cwd` with `argv` (after the
// binary), its output in `log`; SIGKILLed and reaped by the destructor.
class Proc {
 public:
  Proc(const std::vector<std::string>& argv, const std::string& log,
       const std::string& cwd) {
    std::vector<std::string> all = {RAFTKV_PATH};
    all.insert(all.end(), argv.begin(), argv.end());
    std::vector<char*> c_argv;
    for (auto& a : all) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      if (chdir(cwd.c_str()) != 0) _exit(126);
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      execv(c_argv[0], c_argv.data());
      _exit(127);
    }
  }
  ~Proc() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;
  bool ok() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

RunResult Ctl(const std::string& endpoint,
              const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"etcdctl", "--endpoints=" + endpoint,
                                   "--dial-timeout=2s", "--command-timeout=5s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, "", {"ETCDCTL_API=3"}, absl::Seconds(15));
}

TEST(UnixSocketTest, MembersReplicateOverUnixPeerUrlsAndServeAUnixClientUrl) {
  ASSERT_TRUE(raftkv::testing::HaveProgram("etcdctl"));
  ASSERT_TRUE(raftkv::testing::HaveProgram("curl"));
  raftkv::testing::TempDir dir;
  // etcd's URLs have no path: the members run in `sock` and name their
  // socket files relative to it; clients reach them by absolute path.
  const std::string sock = dir.path() + "/s";
  std::filesystem::create_directories(sock);
  std::vector<std::string> peer(3);
  std::vector<std::string> cluster;
  for (int i = 0; i < 3; ++i) {
    peer[i] = absl::StrCat("unix://m", i + 1, ".peer:1");
    cluster.push_back(absl::StrCat("m", i + 1, "=", peer[i]));
  }
  const std::string member_unix_client = "unix://m1.client:1";
  const std::string unix_client = absl::StrCat("unix://", sock, "/m1.client:1");
  std::vector<std::string> tcp_client(3);
  std::vector<std::unique_ptr<Proc>> procs;
  for (int i = 0; i < 3; ++i) {
    tcp_client[i] = absl::StrCat("http://127.0.0.1:", FreeLoopbackPort());
    // Member 1 serves clients on the unix socket and on TCP; the others on
    // TCP only.
    const std::string clients =
        i == 0 ? absl::StrCat(member_unix_client, ",", tcp_client[i])
               : tcp_client[i];
    procs.push_back(std::make_unique<Proc>(
        std::vector<std::string>{"--name",
                                 absl::StrCat("m", i + 1),
                                 "--data-dir",
                                 absl::StrCat(dir.path(), "/d", i + 1),
                                 "--listen-peer-urls",
                                 peer[i],
                                 "--initial-advertise-peer-urls",
                                 peer[i],
                                 "--initial-cluster",
                                 absl::StrJoin(cluster, ","),
                                 "--initial-cluster-token",
                                 "unix-e2e",
                                 "--listen-client-urls",
                                 clients,
                                 "--advertise-client-urls",
                                 clients,
                                 "--heartbeat-interval",
                                 "50",
                                 "--election-timeout",
                                 "500"},
        absl::StrCat(dir.path(), "/m", i + 1, ".log"), sock));
    ASSERT_TRUE(procs.back()->ok());
  }
  auto log = [&](int i) {
    auto r = RunProgram(
        {"tail", "-n", "30", absl::StrCat(dir.path(), "/m", i + 1, ".log")});
    return r.out;
  };
  // Ready: a write through the unix client URL commits (which needs a
  // leader elected over the unix peer sockets).
  RunResult put;
  ASSERT_TRUE(WaitFor(
      [&] {
        put = Ctl(unix_client, {"put", "k", "over-unix"});
        return put.exit_code == 0;
      },
      absl::Seconds(40), absl::Milliseconds(200)))
      << put.err << log(0) << log(1) << log(2);
  // Every peer socket is a socket file named as the URL spells it.
  for (int i = 0; i < 3; ++i) {
    struct stat st {};
    const std::string path = absl::StrCat(sock, "/m", i + 1, ".peer:1");
    ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
    EXPECT_TRUE(S_ISSOCK(st.st_mode)) << path;
  }
  // Replicated over the unix peer URLs to the TCP-only members.
  for (int i = 1; i < 3; ++i) {
    RunResult get;
    EXPECT_TRUE(WaitFor(
        [&] {
          get = Ctl(tcp_client[i],
                    {"get", "k", "--print-value-only", "--consistency=s"});
          return get.out == "over-unix\n";
        },
        absl::Seconds(10), absl::Milliseconds(100)))
        << "member " << i + 1 << ": " << get.out << get.err;
  }
  // HTTP on the same unix socket: /health and the JSON gateway.
  const std::string socket_file = absl::StrCat(sock, "/m1.client:1");
  RunResult health =
      RunProgram({"curl", "-sS", "--max-time", "5", "--unix-socket",
                  socket_file, "http://localhost/health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_TRUE(absl::StrContains(health.out, "\"health\":\"true\""))
      << health.out;
  // {"key": "k"} base64: "aw=="; the value "over-unix": "b3Zlci11bml4".
  RunResult range = RunProgram(
      {"curl", "-sS", "--max-time", "5", "--unix-socket", socket_file, "-X",
       "POST", "-d", R"({"key":"aw=="})", "http://localhost/v3/kv/range"});
  EXPECT_EQ(range.exit_code, 0) << range.err;
  EXPECT_TRUE(absl::StrContains(range.out, "b3Zlci11bml4")) << range.out;
  // The member list names the unix peer URLs.
  RunResult members = Ctl(tcp_client[2], {"member", "list"});
  EXPECT_EQ(members.exit_code, 0) << members.err;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(absl::StrContains(members.out, peer[i])) << members.out;
  }
}

// etcd's own TestEtcdUnixPeers: one member with a relative unix peer URL
// ("unix://etcd.unix:1" is the file etcd.unix:1 in the working directory).
TEST(UnixSocketTest, RelativeUnixPeerUrlIsAFileInTheWorkingDirectory) {
  raftkv::testing::TempDir dir;
  const std::string client =
      absl::StrCat("http://127.0.0.1:", FreeLoopbackPort());
  auto proc = std::make_unique<Proc>(
      std::vector<std::string>{
          "--name", "e1", "--data-dir", "e1.etcd", "--listen-peer-urls",
          "unix://etcd.unix:1", "--initial-advertise-peer-urls",
          "unix://etcd.unix:1", "--initial-cluster", "e1=unix://etcd.unix:1",
          "--listen-client-urls", client, "--advertise-client-urls", client},
      dir.path() + "/e1.log", dir.path());
  ASSERT_TRUE(proc->ok());
  RunResult put;
  EXPECT_TRUE(WaitFor(
      [&] {
        put = Ctl(client, {"put", "a", "1"});
        return put.exit_code == 0;
      },
      absl::Seconds(30), absl::Milliseconds(200)))
      << put.err;
  struct stat st {};
  const std::string path = dir.path() + "/etcd.unix:1";
  ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
}

}  // namespace
}  // namespace raftkv::e2e
