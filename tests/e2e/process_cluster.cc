// ProcessCluster; see process_cluster.h.
#include "tests/e2e/process_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rpc/client/keys.h"

namespace raftkv::e2e {

using raftkv::testing::FreeLoopbackPort;

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(poll);
  }
}

absl::StatusOr<PrefixRead> ReadPrefix(client::Client& c,
                                      const std::string& prefix,
                                      bool serializable, int endpoint) {
  const client::KeyRange range = client::PrefixRange(prefix);
  etcdserverpb::RangeRequest request;
  request.set_key(range.key);
  request.set_range_end(range.range_end);
  request.set_serializable(serializable);
  client::CallOptions call;
  call.endpoint = endpoint;
  call.timeout = absl::Seconds(10);
  auto r = c.Range(request, call);
  if (!r.ok()) return r.status();
  PrefixRead out;
  out.revision = r->header().revision();
  for (const mvccpb::KeyValue& kv : r->kvs()) out.kvs[kv.key()] = kv;
  return out;
}

ProcessCluster::ProcessCluster(ClusterOptions options)
    : options_(std::move(options)) {
  std::vector<int> used;
  auto fresh_port = [&used] {
    while (true) {
      const int p = FreeLoopbackPort();
      if (std::find(used.begin(), used.end(), p) == used.end()) {
        used.push_back(p);
        return p;
      }
    }
  };
  for (int i = 0; i < options_.size; ++i) {
    Member m;
    m.name = absl::StrCat("m", i + 1);
    m.client_port = fresh_port();
    m.peer_port = fresh_port();
    m.metrics_port = fresh_port();
    m.data_dir = absl::StrCat(dir_.path(), "/", m.name, ".data");
    m.log_path = absl::StrCat(dir_.path(), "/", m.name, ".log");
    members_.push_back(m);
  }
}

ProcessCluster::~ProcessCluster() {
  // RAFTKV_E2E_STACKS=1: on failure, the stacks of every member still
  // running (a hung member shows where it hangs).
  const char* stacks = std::getenv("RAFTKV_E2E_STACKS");
  if (::testing::Test::HasFailure() && stacks != nullptr &&
      std::string(stacks) == "1") {
    for (int i = 0; i < size(); ++i) {
      if (!Running(i)) continue;
      std::fprintf(stderr, "=== stacks of %s ===\n", name(i).c_str());
      raftkv::testing::RunResult r = raftkv::testing::RunProgram(
          {"gdb", "-p", absl::StrCat(members_[i].pid), "-batch", "-ex",
           "thread apply all bt 30"},
          "", {}, absl::Seconds(60));
      std::fprintf(stderr, "%s\n", r.out.c_str());
    }
  }
  for (int i = 0; i < size(); ++i) Kill(i);
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "=== member logs (test failed) ===\n%s\n",
                 Logs().c_str());
  }
}

std::string ProcessCluster::name(int i) const { return members_[i].name; }

std::string ProcessCluster::client_endpoint(int i) const {
  return absl::StrCat("127.0.0.1:", members_[i].client_port);
}
std::string ProcessCluster::peer_endpoint(int i) const {
  return absl::StrCat("127.0.0.1:", members_[i].peer_port);
}
std::string ProcessCluster::metrics_endpoint(int i) const {
  return absl::StrCat("127.0.0.1:", members_[i].metrics_port);
}

std::vector<std::string> ProcessCluster::client_endpoints() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(client_endpoint(i));
  return out;
}

int ProcessCluster::AddMember(const std::vector<int>& current) {
  auto used = [this](int p) {
    for (const Member& o : members_) {
      if (o.client_port == p || o.peer_port == p || o.metrics_port == p) {
        return true;
      }
    }
    return false;
  };
  auto fresh_port = [&used] {
    while (true) {
      const int p = FreeLoopbackPort();
      if (!used(p)) return p;
    }
  };
  Member m;
  m.name = absl::StrCat("m", members_.size() + 1);
  m.client_port = fresh_port();
  members_.push_back(m);  // so that the next ports differ
  Member& added = members_.back();
  added.peer_port = fresh_port();
  added.metrics_port = fresh_port();
  added.data_dir = absl::StrCat(dir_.path(), "/", added.name, ".data");
  added.log_path = absl::StrCat(dir_.path(), "/", added.name, ".log");
  added.existing = true;
  added.initial_cluster = current;
  added.initial_cluster.push_back(static_cast<int>(members_.size()) - 1);
  return static_cast<int>(members_.size()) - 1;
}

std::string ProcessCluster::peer_url(int i) const {
  return absl::StrCat(options_.peer_scheme, "://127.0.0.1:",
                      members_[i].peer_port);
}

std::string ProcessCluster::client_url(int i) const {
  return absl::StrCat(options_.client_scheme, "://127.0.0.1:",
                      members_[i].client_port);
}

std::vector<std::string> ProcessCluster::Argv(int i) const {
  const Member& m = members_[i];
  std::vector<std::string> cluster;
  for (size_t j = 0; j < members_.size(); ++j) {
    const Member& o = members_[j];
    if (m.existing
            ? std::find(m.initial_cluster.begin(), m.initial_cluster.end(),
                        static_cast<int>(j)) == m.initial_cluster.end()
            : o.existing) {
      continue;
    }
    cluster.push_back(absl::StrCat(o.name, "=", peer_url(static_cast<int>(j))));
  }
  const std::string client = client_url(i);
  const std::string peer = peer_url(i);
  std::vector<std::string> argv = {
      options_.binary,
      "--name=" + m.name,
      "--data-dir=" + m.data_dir,
      "--listen-client-urls=" + client,
      "--advertise-client-urls=" + client,
      "--listen-peer-urls=" + peer,
      "--initial-advertise-peer-urls=" + peer,
      "--initial-cluster=" + absl::StrJoin(cluster, ","),
      "--initial-cluster-token=" + options_.token,
      m.existing ? "--initial-cluster-state=existing"
                 : "--initial-cluster-state=new",
      absl::StrCat("--listen-metrics-urls=http://127.0.0.1:", m.metrics_port),
  };
  if (options_.heartbeat_ms > 0) {
    argv.push_back(
        absl::StrCat("--heartbeat-interval=", options_.heartbeat_ms));
  }
  if (options_.election_ms > 0) {
    argv.push_back(absl::StrCat("--election-timeout=", options_.election_ms));
  }
  if (options_.snapshot_count > 0) {
    argv.push_back(absl::StrCat("--snapshot-count=", options_.snapshot_count));
  }
  argv.insert(argv.end(), options_.extra_flags.begin(),
              options_.extra_flags.end());
  if (auto it = options_.member_flags.find(i); it != options_.member_flags.end()) {
    argv.insert(argv.end(), it->second.begin(), it->second.end());
  }
  return argv;
}

absl::Status ProcessCluster::StartMember(int i) {
  Member& m = members_[i];
  if (m.pid > 0) return absl::FailedPreconditionError(m.name + " is running");
  std::vector<std::string> argv = Argv(i);
  {
    std::ofstream log(m.log_path, std::ios::app);
    log << "=== e2e: start #" << ++m.starts << ": " << absl::StrJoin(argv, " ")
        << "\n";
  }
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    const int fd =
        open(m.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    execvp(c_argv[0], c_argv.data());
    _exit(127);
  }
  if (pid < 0) return absl::InternalError("fork failed");
  m.pid = pid;
  return absl::OkStatus();
}

absl::Status ProcessCluster::Start(absl::Duration timeout) {
  for (int i = 0; i < size(); ++i) {
    if (absl::Status s = StartMember(i); !s.ok()) return s;
  }
  return WaitForLeader(timeout).status();
}

void ProcessCluster::Kill(int i) {
  Member& m = members_[i];
  if (m.pid <= 0) return;
  kill(m.pid, SIGKILL);
  int status = 0;
  waitpid(m.pid, &status, 0);
  m.pid = -1;
}

int ProcessCluster::Terminate(int i, absl::Duration grace) {
  Member& m = members_[i];
  if (m.pid <= 0) return -1;
  kill(m.pid, SIGTERM);
  int status = 0;
  const pid_t pid = m.pid;
  if (!WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, grace,
               absl::Milliseconds(10))) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  m.pid = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

bool ProcessCluster::Running(int i) {
  Member& m = members_[i];
  if (m.pid <= 0) return false;
  int status = 0;
  if (waitpid(m.pid, &status, WNOHANG) == m.pid) {
    m.pid = -1;
    m.exit_code =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<client::Client>> ProcessCluster::Connect(
    int i, absl::Duration call_timeout) {
  client::Options options;
  options.dial_timeout = absl::ZeroDuration();
  options.call_timeout = call_timeout;
  return client::Client::Connect({client_endpoint(i)}, options);
}

absl::StatusOr<etcdserverpb::StatusResponse> ProcessCluster::Status(
    int i, absl::Duration timeout) {
  auto c = Connect(i, timeout);
  if (!c.ok()) return c.status();
  return (*c)->Status();
}

uint64_t ProcessCluster::MemberId(int i) {
  auto s = Status(i);
  return s.ok() ? s->header().member_id() : 0;
}

absl::StatusOr<int> ProcessCluster::WaitForLeader(absl::Duration timeout,
                                                  std::vector<int> among) {
  if (among.empty()) {
    for (int i = 0; i < size(); ++i) among.push_back(i);
  }
  int leader = -1;
  std::string last;
  const bool ok = WaitFor(
      [&] {
        std::map<uint64_t, int> ids;  // member id -> index
        uint64_t agreed = 0;
        bool any = false;
        for (int i : among) {
          if (!Running(i)) continue;
          auto s = Status(i, absl::Seconds(1));
          if (!s.ok()) {
            last = absl::StrCat(name(i), ": ", s.status().ToString());
            return false;
          }
          ids[s->header().member_id()] = i;
          if (s->leader() == 0 || (any && s->leader() != agreed)) {
            last = absl::StrCat(name(i), " reports leader ", s->leader());
            return false;
          }
          agreed = s->leader();
          any = true;
        }
        auto it = ids.find(agreed);
        if (!any || it == ids.end()) {
          last = "leader is not among the running members";
          return false;
        }
        leader = it->second;
        return true;
      },
      timeout);
  if (!ok) {
    return absl::DeadlineExceededError(absl::StrCat(
        "no agreed leader within ", absl::FormatDuration(timeout), ": ", last));
  }
  return leader;
}

std::unique_ptr<client::Client> ProcessCluster::ClientOf(
    int i, absl::Duration call_timeout) {
  auto c = Connect(i, call_timeout);
  return c.ok() ? std::move(*c) : nullptr;
}

std::unique_ptr<client::Client> ProcessCluster::ClientOfAll(
    absl::Duration call_timeout) {
  std::vector<int> all;
  for (int i = 0; i < size(); ++i) all.push_back(i);
  return ClientOfMembers(all, call_timeout);
}

std::unique_ptr<client::Client> ProcessCluster::ClientOfMembers(
    const std::vector<int>& members, absl::Duration call_timeout) {
  std::vector<std::string> endpoints;
  for (int i : members) endpoints.push_back(client_endpoint(i));
  client::Options options;
  // Also the time a call waits for one endpoint to connect before it moves
  // on to the next (zero would wait out the whole call on a dead member).
  options.dial_timeout = absl::Seconds(1);
  options.call_timeout = call_timeout;
  auto c = client::Client::Connect(endpoints, options);
  return c.ok() ? std::move(*c) : nullptr;
}

absl::StatusOr<std::string> ProcessCluster::HttpGet(int i,
                                                    const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(members_[i].metrics_port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError("connect failed");
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (write(fd, request.data(), request.size()) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("write failed");
  }
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, n);
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) {
    return absl::UnavailableError("no HTTP response: " + response);
  }
  return response.substr(body + 4);
}

double ProcessCluster::Metric(int i, const std::string& metric) {
  auto body = HttpGet(i, "/metrics");
  if (!body.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(*body, '\n')) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    double v = 0;
    if (parts.size() == 2 && parts[0] == metric &&
        absl::SimpleAtod(parts[1], &v)) {
      return v;
    }
  }
  return -1;
}

std::string ProcessCluster::Log(int i, size_t max_bytes) const {
  std::ifstream in(members_[i].log_path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? "..." + s.substr(s.size() - max_bytes) : s;
}

std::string ProcessCluster::Logs(size_t max_bytes) const {
  std::string out;
  for (int i = 0; i < size(); ++i) {
    absl::StrAppend(&out, "--- ", name(i), " (", members_[i].log_path,
                    ") ---\n", Log(i, max_bytes), "\n");
  }
  return out;
}

}  // namespace raftkv::e2e
