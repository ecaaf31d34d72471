// Checker for the lease workload: keys bound to leases vanish when, and only
// when, their owner stops keeping the lease alive.
//
// History records (checker/history.h), one key "jl/<owner>/<cycle>" per
// lease:
//   grant      value [granted TTL s, lease id]; ok or info
//   put        value [lease id]; ok, fail (lease not found) or info
//   keepalive  value [lease id, TTL returned] when ok (TTL 0: the lease is
//              gone), [lease id] when info (timed out: it may have renewed
//              the lease, at any time up to the fault window after its end)
//   read       value [1 present | 0 absent]; ok, or fail on an error
//   final-read key "jl", after healing: events = the keys still present,
//              each [owner, cycle]
// Owners never revoke.
//
// Guarantees:
//   expired      (owner stopped) a read that starts after the deadline
//                never sees the key. The deadline starts as
//                  last renewal + TTL + margin
//                where the last renewal is the end of the grant or of the
//                last keep-alive, ok or info (an info one may have renewed
//                the lease), and the margin covers an election and the
//                revoke's commit. Each fault window that starts before the
//                deadline moves it to at least
//                  window end + TTL + margin
//                because a lease cannot be revoked without a leader and a new
//                leader may give every lease its TTL again (etcd's
//                Promote; raftkv restores the checkpointed remaining TTL,
//                which a keep-alive resets to the full TTL);
//   kept_alive   a read wholly inside a window the lease is certainly alive
//                never misses the key: after the put's end, within
//                  [grant.end, grant.start + TTL] or
//                  [keepalive.end, keepalive.start + TTL]
//                of an ok keep-alive that returned TTL > 0; nor does an ok
//                keep-alive in such a window find the lease gone (TTL 0).
//                Owners keep alive every TTL/4, so while keep-alives are
//                acknowledged at least every TTL/3 these windows overlap and
//                cover the whole period.
#ifndef RAFTKV_JEPSEN_CHECKER_LEASE_H_
#define RAFTKV_JEPSEN_CHECKER_LEASE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jepsen/checker/history.h"
#include "jepsen/checker/linearizable.h"

namespace raftkv::jepsen {

struct LeaseReport {
  Verdict verdict = Verdict::kValid;
  std::map<std::string, int64_t> violations;
  std::map<std::string, std::vector<std::string>> examples;
  int64_t leases = 0;          // granted (ok) with a put ok or info
  int64_t expiry_checked = 0;  // with a read after their deadline, or seen
                               // gone before it
  int64_t kept_reads = 0;      // reads inside an alive window
  int64_t keepalives_ok = 0, keepalives_info = 0;
  int64_t continuously_kept = 0;  // leases acked at least every TTL/3 until
                                  // the owner stopped
  std::string Describe() const;
};

struct Fault {
  int64_t start, end;  // ns since t0, as nemesis.jsonl
};

// `margin_ns`: election timeout + commit slack; `faults`: the nemesis
// windows (see "expired" above).
LeaseReport CheckLease(const std::vector<Op>& history, int64_t margin_ns,
                       std::vector<Fault> faults = {});

}  // namespace raftkv::jepsen

#endif  // RAFTKV_JEPSEN_CHECKER_LEASE_H_
