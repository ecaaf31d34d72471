// Helpers for the lease end-to-end tests (issue 6): lease calls through the
// client library's raw Lease stub, a background process (a long-running
// `etcdctl lease keep-alive`) whose output goes to a file, and a watcher of
// a prefix that collects events on its own thread.
#ifndef RAFTKV_TESTS_E2E_LEASE_UTIL_H_
#define RAFTKV_TESTS_E2E_LEASE_UTIL_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/client/client.h"

namespace raftkv::e2e {

// Lease RPCs on endpoint `ep` (-1: the client's current endpoint), with a
// 5 s deadline and no failover.
absl::StatusOr<int64_t> GrantLease(client::Client& c, int64_t ttl,
                                   int64_t id = 0, int ep = -1);
absl::Status RevokeLease(client::Client& c, int64_t id, int ep = -1);
absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> LeaseTtl(
    client::Client& c, int64_t id, bool keys = false, int ep = -1);
absl::StatusOr<etcdserverpb::LeaseKeepAliveResponse> KeepAliveOnce(
    client::Client& c, int64_t id, int ep = -1);
absl::StatusOr<etcdserverpb::PutResponse> PutWithLease(client::Client& c,
                                                       const std::string& key,
                                                       const std::string& value,
                                                       int64_t lease);
// Whether `key` exists (linearizable read with failover); errors count as
// "unknown" and are returned.
absl::StatusOr<bool> KeyExists(client::Client& c, const std::string& key);

// A child process with stdout and stderr appended to `log_path`. Killed
// (SIGKILL) and reaped by Stop() or the destructor.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv,
                    const std::string& log_path);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  bool running();
  void Stop();
  std::string Output() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// One Watch stream on endpoint `ep` for [prefix, prefix+1), reading events
// on its own thread. Start() fails with the server's status (e.g.
// UNIMPLEMENTED while the Watch service does not exist).
class PrefixWatcher {
 public:
  PrefixWatcher(client::Client& c, int ep, std::string prefix);
  ~PrefixWatcher();
  absl::Status Start(absl::Duration timeout = absl::Seconds(5));
  // Events received so far, in arrival order.
  std::vector<mvccpb::Event> Events() const;
  // Waits until at least `n` events arrived.
  bool WaitForEvents(size_t n, absl::Duration timeout) const;

 private:
  void ReadLoop();

  client::Client& client_;
  const int ep_;
  const std::string prefix_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest,
                                           etcdserverpb::WatchResponse>>
      stream_;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::vector<mvccpb::Event> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::e2e

#endif  // RAFTKV_TESTS_E2E_LEASE_UTIL_H_
