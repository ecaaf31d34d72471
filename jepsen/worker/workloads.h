// The client side of each workload. One thread per logical client, each
// bound to one member (thread i talks to endpoint i mod n, with no failover,
// as Jepsen binds clients to nodes), so a stale member is observed rather
// than routed around.
//
//   register — per-key read (linearizable Range), write (Put) and
//              compare-and-set (Txn: value == old ? put new); keys "jr/<n>"
//              rotate every --ops_per_key operations, values 0..4.
//   set      — add: Put "js/<unique int>"; the final read (FinalSetRead,
//              after the nemesis healed) ranges over the prefix.
//   bank     — accounts "jb/0".."jb/<n-1>"; transfer: read all, then Txn
//              guarded by both accounts' mod_revision; read: all accounts,
//              linearizable or serializable (half each).
//
// Outcomes: a read that errs is fail (it had no effect); a write that errs
// is info (it may have been applied) and the thread continues under a new
// process id; a cas or transfer whose compare fails is fail.
#ifndef RAFTKV_JEPSEN_WORKER_WORKLOADS_H_
#define RAFTKV_JEPSEN_WORKER_WORKLOADS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "jepsen/worker/recorder.h"

namespace raftkv::jepsen {

struct WorkerConfig {
  std::string workload = "register";
  std::vector<std::string> endpoints;
  int threads = 10;
  absl::Duration duration = absl::Seconds(30);
  absl::Duration op_timeout = absl::Seconds(1);
  absl::Duration pause = absl::Milliseconds(10);  // between two ops
  int64_t ops_per_key = 150;
  int accounts = 5;
  int64_t total = 100;
  uint64_t seed = 1;
};

// Runs the workload's client threads for config.duration.
absl::Status RunWorkload(const WorkerConfig& config, Recorder& recorder);

// Set workload: reads the whole set (retrying on every endpoint for up to
// `patience`) and records it as one "read" op.
absl::Status FinalSetRead(const WorkerConfig& config, Recorder& recorder,
                          absl::Duration patience);

}  // namespace raftkv::jepsen

#endif  // RAFTKV_JEPSEN_WORKER_WORKLOADS_H_
