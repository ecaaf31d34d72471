// Lessor: the leases' clock. Lease records live in the store (replicated
// through Raft); the Lessor keeps them in memory with an expiry time that
// only the leader uses:
//
// - On becoming leader (Promote), each lease expires after its remaining
//   TTL — the last checkpointed value if any, else its full TTL — plus an
//   extension (an election timeout) so that clients have time to find the
//   new leader. So a leader change never expires a lease early, and long
//   leases are not reset forever (checkpoints, etcd #9888).
// - Keep-alives renew on the leader only (Renew).
// - The leader proposes a revoke for each expired lease (Expired); the
//   revoke, applied on every member, deletes the lease's keys.
// - Followers keep no clock (Demote): their expiry is "never".
//
// Thread safety: thread-safe (one mutex; every method is short).
#ifndef RAFTKV_KV_LESSOR_H_
#define RAFTKV_KV_LESSOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kv/requestpb.pb.h"

namespace raftkv::kv {

// etcd's limit: a TTL above it gets ErrGRPCLeaseTTLTooLarge.
inline constexpr int64_t kMaxLeaseTtl = 9'000'000'000;

class Lessor {
 public:
  // `clock` is the time source (tests pass a manual clock).
  explicit Lessor(std::function<absl::Time()> clock = absl::Now)
      : clock_(std::move(clock)) {}

  // Replaces the table (at startup and after installing a snapshot).
  void Reset(const std::vector<kvpb::LeaseRecord>& records);

  // Applied changes (apply thread).
  void Granted(int64_t id, int64_t ttl);
  void Revoked(int64_t id);
  void Checkpointed(const kvpb::LeaseCheckpoint& cp);

  void Promote(absl::Duration extend);
  void Demote();
  bool is_primary() const;

  // Leader: renews to the full TTL. Returns the TTL, or 0 if the lease is
  // unknown (etcd answers a keep-alive for an unknown lease with TTL 0).
  // Sets *reset_checkpoint when the lease carries a checkpointed remaining
  // TTL: the caller must then replicate a checkpoint of 0 ("full TTL"), or a
  // new leader would expire the just-renewed lease after the old remainder.
  // Errors: FailedPrecondition "lessor: not primary" before Promote (a new
  // leader has not promoted yet): the caller must wait or retry, never
  // answer TTL 0, which a client takes for "lease gone" (etcd's
  // ErrNotPrimary).
  absl::StatusOr<int64_t> Renew(int64_t id, bool* reset_checkpoint);
  // Remaining seconds (leader: by its clock; follower: the checkpointed or
  // full TTL), and the granted TTL; nullopt-like -1 when unknown.
  struct TimeToLive {
    int64_t remaining = -1;
    int64_t granted = 0;
  };
  TimeToLive Remaining(int64_t id) const;
  std::vector<int64_t> Ids() const;
  // Leader: up to `limit` leases whose expiry has passed and whose revoke
  // was not proposed within the last `retry` (revokes can be lost).
  std::vector<int64_t> Expired(size_t limit, absl::Duration retry);
  // Leader: remaining TTLs of up to `limit` leases with IDs above
  // `after_id`, in ID order, for a checkpoint (callers page through all
  // leases by passing the last ID of the previous batch).
  kvpb::LeaseCheckpoint Checkpoint(size_t limit, int64_t after_id = 0) const;

 private:
  struct Lease {
    int64_t ttl = 0;
    int64_t remaining_ttl = 0;  // checkpointed; 0 if none
    absl::Time expiry = absl::InfiniteFuture();
    absl::Time revoke_proposed = absl::InfinitePast();
  };

  const std::function<absl::Time()> clock_;
  mutable absl::Mutex mu_;
  std::map<int64_t, Lease> leases_ ABSL_GUARDED_BY(mu_);
  bool primary_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_LESSOR_H_
