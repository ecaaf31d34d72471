// Test helpers; see client_test_util.h.
#include "tests/rpc/client_test_util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "rpc/client/client.h"

namespace raftkv::testing {

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len)) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern =
      absl::StrCat(base != nullptr ? base : "/tmp", "/raftkv-client-XXXXXX");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

bool HaveProgram(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    std::string full = absl::StrCat(dir, "/", program);
    if (access(full.c_str(), X_OK) == 0) return true;
  }
  return false;
}

namespace {

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

RunResult RunProgram(const std::vector<std::string>& argv_in,
                     const std::string& input,
                     const std::vector<std::string>& env,
                     absl::Duration timeout) {
  RunResult result;
  int in[2], out[2], err[2];
  if (pipe(in) || pipe(out) || pipe(err)) return result;
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(envs);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    execvpe(c_argv[0], c_argv.data(), c_env.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // Small inputs only: the pipe buffer holds them, so writing cannot block.
  if (!input.empty()) {
    ssize_t ignored = write(in[1], input.data(), input.size());
    (void)ignored;
  }
  close(in[1]);
  const absl::Time deadline = absl::Now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    const int wait_ms = static_cast<int>(std::max<int64_t>(
        0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    if (wait_ms == 0 && !killed) {
      kill(pid, SIGKILL);
      killed = true;
    }
    if (poll(fds, 2, killed ? 1000 : wait_ms) <= 0) {
      if (killed) break;
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, n);
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = ExitCodeOf(status);
  return result;
}

ServerConfig ServerConfig::WithFreePorts() {
  ServerConfig config;
  config.client_port = FreeLoopbackPort();
  do {
    config.peer_port = FreeLoopbackPort();
  } while (config.peer_port == config.client_port);
  return config;
}

std::string ServerConfig::client_endpoint() const {
  return absl::StrCat("127.0.0.1:", client_port);
}

EtcdServer::EtcdServer(ServerConfig config) : config_(std::move(config)) {}

EtcdServer::~EtcdServer() { Stop(); }

absl::Status EtcdServer::Start(absl::Duration timeout) {
  if (pid_ > 0) return absl::FailedPreconditionError("already running");
  dir_ = std::make_unique<TempDir>();
  if (dir_->path().empty()) return absl::InternalError("mkdtemp failed");
  const std::string client_url =
      absl::StrCat("http://127.0.0.1:", config_.client_port);
  const std::string peer_url =
      absl::StrCat("http://127.0.0.1:", config_.peer_port);
  std::vector<std::string> argv = {
      "etcd",
      "--name=" + config_.name,
      "--data-dir=" + dir_->path() + "/data",
      "--listen-client-urls=" + client_url,
      "--advertise-client-urls=" + client_url,
      "--listen-peer-urls=" + peer_url,
      "--initial-advertise-peer-urls=" + peer_url,
      "--initial-cluster=" + config_.name + "=" + peer_url,
      "--initial-cluster-token=" + config_.token,
      "--initial-cluster-state=new",
      "--log-outputs=stderr",
  };
  const std::string log = dir_->path() + "/etcd.log";
  std::vector<char*> c_argv = CStrings(argv);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execvp(c_argv[0], c_argv.data());
    _exit(127);
  }
  if (pid_ < 0) return absl::InternalError("fork failed");

  // Ready means: a Status call succeeds and reports a leader.
  const absl::Time deadline = absl::Now() + timeout;
  client::Options options;
  options.dial_timeout = absl::ZeroDuration();
  options.call_timeout = absl::Milliseconds(500);
  auto c = client::Client::Connect({endpoint()}, options);
  if (!c.ok()) return c.status();
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("etcd exited early: ", LogTail()));
    }
    auto s = (*c)->Status();
    if (s.ok() && s->leader() != 0) return absl::OkStatus();
    // Status blocks up to its deadline while the server is coming up;
    // refused connections return at once, so bound the polling rate.
    if (!s.ok()) absl::SleepFor(absl::Milliseconds(20));
  }
  std::string tail = LogTail();
  Stop();
  return absl::DeadlineExceededError(
      absl::StrCat("etcd not ready in time: ", tail));
}

void EtcdServer::Stop(absl::Duration grace) {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  pid_ = -1;
}

std::string EtcdServer::LogTail() const {
  if (dir_ == nullptr) return "";
  std::ifstream in(dir_->path() + "/etcd.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

}  // namespace raftkv::testing
