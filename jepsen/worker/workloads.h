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
//   watch    — writers and watchers of the prefix "jw/" (watch_workload.cc,
//              checker/watch.h); the final read is a watch from revision 1.
//   lease    — lease owners: grant, put a key bound to the lease, keep it
//              alive for a while, stop, watch the key vanish
//              (lease_workload.cc, checker/lease.h).
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
  int watchers = 4;         // watch: how many of `threads` watch
  int64_t lease_ttl_s = 4;  // lease: TTL granted
};

// Runs the workload's client threads for config.duration.
absl::Status RunWorkload(const WorkerConfig& config, Recorder& recorder);

// Set workload: reads the whole set (retrying on every endpoint for up to
// `patience`) and records it as one "read" op.
absl::Status FinalSetRead(const WorkerConfig& config, Recorder& recorder,
                          absl::Duration patience);

// Watch workload (watch_workload.cc): the run, and the committed history
// read after healing (a sentinel put, then a watch from revision 1).
absl::Status RunWatchWorkload(const WorkerConfig& config, Recorder& recorder);
absl::Status FinalWatchRead(const WorkerConfig& config, Recorder& recorder,
                            absl::Duration patience);

// Lease workload (lease_workload.cc): the run, and final reads of the prefix
// after healing until every key is gone or `patience` ends.
absl::Status RunLeaseWorkload(const WorkerConfig& config, Recorder& recorder);
absl::Status FinalLeaseRead(const WorkerConfig& config, Recorder& recorder,
                            absl::Duration patience);

}  // namespace raftkv::jepsen

#endif  // RAFTKV_JEPSEN_WORKER_WORKLOADS_H_
