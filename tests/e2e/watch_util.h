// Helpers for the end-to-end watch tests (issue 5; docs/watch.md "Tests"):
// a synchronous Watch stream on a channel of its own, the committed history
// of a range read back through a watch from revision 1, the named checks of
// that history against a replayed model (the same guarantees as
// tests/kv/watch_property_test.cc), and a member's memory from /proc.
#ifndef RAFTKV_TESTS_E2E_WATCH_UTIL_H_
#define RAFTKV_TESTS_E2E_WATCH_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "rpc/rpc.grpc.pb.h"
#include "tests/e2e/process_cluster.h"

namespace raftkv::e2e {

// A new channel to `endpoint` ("127.0.0.1:port"), never shared with another
// watcher. With `fixed_window`, HTTP/2 BDP probing is off, so the stream's
// receive window stays at gRPC's 64 KiB and a client that stops reading
// makes the server's writes stall after a known amount of data.
std::shared_ptr<grpc::Channel> WatchChannel(const std::string& endpoint,
                                            bool fixed_window = false);

// One synchronous Watch call. Read() and Write() may run on two threads at
// once (gRPC's rule for synchronous streams); Cancel() from any thread.
class SyncWatch {
 public:
  // `metadata` is sent with the call (e.g. {"hasleader", "true"}).
  explicit SyncWatch(
      const std::shared_ptr<grpc::Channel>& channel,
      const std::vector<std::pair<std::string, std::string>>& metadata = {},
      absl::Duration timeout = absl::InfiniteDuration());
  ~SyncWatch();

  bool Create(const etcdserverpb::WatchCreateRequest& create);
  bool RequestProgress();
  bool Read(etcdserverpb::WatchResponse* response);
  // Cancels the call (a blocked Read returns false).
  void Cancel() { context_.TryCancel(); }
  // Cancels (unless `cancel` is false: then it waits for the server to end
  // the call), drains and returns the call's status.
  grpc::Status Finish(bool cancel = true);

 private:
  std::unique_ptr<etcdserverpb::Watch::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest,
                                           etcdserverpb::WatchResponse>>
      stream_;
  bool finished_ = false;
};

etcdserverpb::WatchCreateRequest CreateRequest(const std::string& key,
                                               const std::string& range_end,
                                               int64_t start_revision,
                                               bool prev_kv);

// Whether `key` lies in [key, range_end) with etcd's conventions (empty
// range_end: the key alone; "\0": every key from `key`).
bool InRange(const std::string& key, const std::string& range_end,
             const std::string& k);

// Every event of [key, range_end) from revision 1 through `until`, with
// prev_kv, read through one watch on `endpoint` (history kept: no
// compaction). Each inner vector is one WatchResponse's events.
absl::StatusOr<std::vector<std::vector<mvccpb::Event>>> ReadHistory(
    const std::string& endpoint, const std::string& key,
    const std::string& range_end, int64_t until, absl::Duration timeout);

// The history's own checks, replaying it into a model of the keys: every
// revision from `first` to `last` has events (no revision is missing — the
// writes of the test are all in the range), prev_kv is the model's previous
// version of the key (absent for a new key), and a PUT's version and
// create_revision follow (is_create: version 1 and create_revision ==
// mod_revision exactly when the key did not exist). Returns the violations
// (empty: none) and the model after the last event.
struct HistoryCheck {
  std::vector<std::string> violations;
  std::map<std::string, mvccpb::KeyValue> model;
};
HistoryCheck CheckHistory(const std::vector<mvccpb::Event>& history,
                          int64_t first, int64_t last);

// A member's process id, found through its client port in /proc/*/cmdline
// (-1 if not running).
pid_t MemberPid(const ProcessCluster& cluster, int i);

// VmRSS and VmHWM of a process in KiB, from /proc/<pid>/status (-1 if
// unreadable).
struct Memory {
  int64_t rss_kib = -1;
  int64_t hwm_kib = -1;
};
Memory ReadMemory(pid_t pid);

}  // namespace raftkv::e2e

#endif  // RAFTKV_TESTS_E2E_WATCH_UTIL_H_
