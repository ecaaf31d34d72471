// ProcessCluster: N real server processes (raftkv, or etcd itself for
// comparison runs) on 127.0.0.1 with free ports and temporary data
// directories, for the end-to-end tests (docs/e2e.md).
//
// Both binaries take the same flags (etcd's names), so one harness starts
// either. Members can be killed with SIGKILL, stopped with SIGTERM and
// restarted on the same ports and data directory. Nothing sleeps for a fixed
// time: every wait polls a condition until a deadline.
//
// Cleanup: the destructor SIGKILLs and reaps every member that still runs
// (also after a failed ASSERT, which returns from the test body), prints each
// member's log when the current test has failed, and removes the data
// directories. Children get PR_SET_PDEATHSIG, so they die with a crashed test
// binary too.
//
// Thread safety: not thread-safe; owned and driven by one test thread.
// Client endpoints and Status() may be used from other threads only while no
// member is being started or stopped.
#ifndef RAFTKV_TESTS_E2E_PROCESS_CLUSTER_H_
#define RAFTKV_TESTS_E2E_PROCESS_CLUSTER_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/client/client.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {

struct ClusterOptions {
  // Path of the server binary: RAFTKV_PATH, or "etcd" (looked up in PATH).
  std::string binary = RAFTKV_PATH;
  int size = 3;
  // Raft timings in ms; 0 leaves the server's default (100 / 1000).
  int heartbeat_ms = 50;
  int election_ms = 500;
  // --snapshot-count; 0 leaves the default.
  int snapshot_count = 0;
  std::string token = "raftkv-e2e";
  // Appended to every member's command line.
  std::vector<std::string> extra_flags;
  // Appended to member i's command line only (e.g. another certificate).
  std::map<int, std::vector<std::string>> member_flags;
  // Schemes of the client and peer URLs ("http" or "https"). With https
  // client URLs the harness's own gRPC client cannot connect: wait with
  // HttpGet on the (plain) metrics URL and talk through etcdctl.
  std::string client_scheme = "http";
  std::string peer_scheme = "http";
};

// Polls `condition` every `poll` until it holds or `timeout` passes; returns
// whether it held.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration poll = absl::Milliseconds(20));

// Every key under `prefix` (values included) as one Range, and the response
// header's revision. `endpoint` -1 uses failover; otherwise that endpoint
// only. Serializable reads are served by the member itself.
struct PrefixRead {
  std::map<std::string, mvccpb::KeyValue> kvs;
  int64_t revision = 0;
};
absl::StatusOr<PrefixRead> ReadPrefix(client::Client& c,
                                      const std::string& prefix,
                                      bool serializable = false,
                                      int endpoint = -1);

class ProcessCluster {
 public:
  explicit ProcessCluster(ClusterOptions options);
  ~ProcessCluster();
  ProcessCluster(const ProcessCluster&) = delete;
  ProcessCluster& operator=(const ProcessCluster&) = delete;

  // Starts every member and waits until all agree on a leader.
  absl::Status Start(absl::Duration timeout = absl::Seconds(30));

  int size() const { return static_cast<int>(members_.size()); }
  // Member i's name ("m1".."mN"), endpoints and metrics address.
  std::string name(int i) const;
  std::string client_endpoint(int i) const;  // "127.0.0.1:<port>"
  std::string peer_endpoint(int i) const;
  std::string metrics_endpoint(int i) const;
  std::vector<std::string> client_endpoints() const;

  // Adds a member (named "m<N+1>", fresh ports and data directory) without
  // starting it: it joins the running cluster, as after `etcdctl member
  // add`, with --initial-cluster-state=existing and an --initial-cluster of
  // the members in `current` plus itself. Returns its index.
  int AddMember(const std::vector<int>& current);
  // "<client_scheme>://127.0.0.1:<client port>" of member i.
  std::string client_url(int i) const;
  // "<peer_scheme>://127.0.0.1:<peer port>" of member i.
  std::string peer_url(int i) const;
  // The exit code Running() or Terminate() last reaped for member i (128 +
  // signal if killed by one; -1 if none yet).
  int ExitCode(int i) const { return members_[i].exit_code; }
  // Member i's --data-dir (to inspect or damage it while it is stopped).
  std::string data_dir(int i) const { return members_[i].data_dir; }

  // Starts member i (fresh or restart: same ports and data directory).
  // Returns once the process runs; it may not serve yet.
  absl::Status StartMember(int i);
  // SIGKILL and reap.
  void Kill(int i);
  // SIGTERM; SIGKILL after `grace`. Reaps. Returns the exit code (128 +
  // signal if killed by one; -1 if it was not running).
  int Terminate(int i, absl::Duration grace = absl::Seconds(10));
  bool Running(int i);

  // Status of member i, without failover.
  absl::StatusOr<etcdserverpb::StatusResponse> Status(
      int i, absl::Duration timeout = absl::Seconds(2));
  // Member i's raft member ID (from Status; 0 if it does not answer).
  uint64_t MemberId(int i);
  // Waits until every running member in `among` (all running members if
  // empty) reports the same non-zero leader, which must be one of them;
  // returns the leader's index.
  absl::StatusOr<int> WaitForLeader(absl::Duration timeout,
                                    std::vector<int> among = {});

  // A client of member i only, or of all members (with failover).
  std::unique_ptr<client::Client> ClientOf(
      int i, absl::Duration call_timeout = absl::Seconds(5));
  std::unique_ptr<client::Client> ClientOfAll(
      absl::Duration call_timeout = absl::Seconds(5));
  // A client of the given members (with failover among them).
  std::unique_ptr<client::Client> ClientOfMembers(
      const std::vector<int>& members,
      absl::Duration call_timeout = absl::Seconds(5));

  // GET http://<metrics_endpoint(i)><path>: the body, or an error.
  absl::StatusOr<std::string> HttpGet(int i, const std::string& path);
  // The value of a Prometheus metric line "name value" on member i (-1 if
  // missing or unreachable).
  double Metric(int i, const std::string& name);

  // Every member's log (the last `max_bytes` of each).
  std::string Logs(size_t max_bytes = 20000) const;
  std::string Log(int i, size_t max_bytes = 20000) const;

 private:
  // A client of member i only, failing fast when it is down.
  absl::StatusOr<std::unique_ptr<client::Client>> Connect(
      int i, absl::Duration call_timeout);
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    int metrics_port = 0;
    std::string data_dir;
    std::string log_path;
    pid_t pid = -1;
    int starts = 0;
    int exit_code = -1;
    // Set by AddMember: --initial-cluster-state=existing with these members
    // (and itself) as --initial-cluster.
    bool existing = false;
    std::vector<int> initial_cluster;
  };

  std::vector<std::string> Argv(int i) const;

  ClusterOptions options_;
  raftkv::testing::TempDir dir_;
  std::vector<Member> members_;
};

}  // namespace raftkv::e2e

#endif  // RAFTKV_TESTS_E2E_PROCESS_CLUSTER_H_
