// Test helpers for the client library and raftkvctl tests: free loopback
// ports, running a program with captured output, and a single-member etcd
// (or, later, raftkv) server started in a temporary data directory.
//
// Nothing here sleeps for a fixed time: waits poll a condition until a
// deadline, and every started process is killed and reaped by its owner.
#ifndef RAFTKV_TESTS_RPC_CLIENT_TEST_UTIL_H_
#define RAFTKV_TESTS_RPC_CLIENT_TEST_UTIL_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace raftkv::testing {

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeLoopbackPort();

// A new empty directory under $TEST_TMPDIR or /tmp; removed by ~TempDir.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct RunResult {
  // The exit code, or 128 + signal when killed (-1 if it could not start).
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] is looked up in PATH) with `input` on stdin and the
// extra `env` entries ("K=V"), killing it after `timeout`.
RunResult RunProgram(const std::vector<std::string>& argv,
                     const std::string& input = "",
                     const std::vector<std::string>& env = {},
                     absl::Duration timeout = absl::Seconds(20));

// True when `program` is an executable in PATH.
bool HaveProgram(const std::string& program);

// Ports and name of a single-member server. Reusing the same ports, name and
// token gives the same cluster and member IDs on every start.
struct ServerConfig {
  int client_port = 0;
  int peer_port = 0;
  std::string name = "default";
  std::string token = "raftkv-client-test";

  static ServerConfig WithFreePorts();
  std::string client_endpoint() const;  // "127.0.0.1:<client_port>"
};

// A real single-member etcd 3.4 on loopback.
//
// Thread safety: not thread-safe; owned by one test or fixture.
class EtcdServer {
 public:
  explicit EtcdServer(ServerConfig config);
  // Kills the process (if running) and deletes its data directory.
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // Starts etcd with a fresh data directory and waits until it answers a
  // Status call, for at most `timeout`.
  absl::Status Start(absl::Duration timeout = absl::Seconds(20));
  // Sends SIGTERM, then SIGKILL if it has not exited within `grace`; reaps.
  void Stop(absl::Duration grace = absl::Seconds(5));

  const ServerConfig& config() const { return config_; }
  std::string endpoint() const { return config_.client_endpoint(); }
  // The tail of the server's log, for failure messages.
  std::string LogTail() const;

 private:
  ServerConfig config_;
  pid_t pid_ = -1;
  std::unique_ptr<TempDir> dir_;
};

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTS_RPC_CLIENT_TEST_UTIL_H_
