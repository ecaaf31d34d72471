// The backend quota (--quota-backend-bytes), as etcd 3.4 measures it
// (etcdserver/quota.go): a write may be proposed only while the store's
// size plus the write's cost stays below the quota. The size is the store's
// files on disk (StateMachine::DiskSize, etcd's bbolt file size); the cost
// is a fixed overhead per key plus its bytes.
//
// The quota never decides what an entry does when applied: sizes differ
// between members, and every member must apply the same entries alike. It
// decides only whether to propose (the member that receives a write) and
// whether this member raises NOSPACE after applying one; the replicated
// NOSPACE alarm then refuses writes on every member (kv/alarms.h).
//
// Thread safety: thread-safe.
#ifndef RAFTKV_KV_QUOTA_H_
#define RAFTKV_KV_QUOTA_H_

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kv/requestpb.pb.h"

namespace raftkv::kv {

// etcd's DefaultQuotaBytes (--quota-backend-bytes 0) and MaxQuotaBytes
// (above it, etcd warns at start).
inline constexpr int64_t kDefaultQuotaBytes = int64_t{2} << 30;
inline constexpr int64_t kMaxQuotaBytes = int64_t{8} << 30;

// What `request` charges against the quota (0: it adds nothing, so it is
// always allowed): etcd's cost (256 bytes of overhead plus key and value
// per put, the larger branch of a txn, 64 per lease grant), with the puts
// of nested txns counted too (etcd 3.4 counts a txn's top level only).
int64_t QuotaCost(const kvpb::InternalRequest& request);

class BackendQuota {
 public:
  // `bytes` as --quota-backend-bytes: negative means no quota, 0 etcd's
  // default. `size` returns the store's current size in bytes; it is called
  // at most once per `refresh` (sizes cost a directory walk).
  BackendQuota(int64_t bytes, std::function<int64_t()> size,
               absl::Duration refresh = absl::Milliseconds(100));

  bool enabled() const { return limit_ >= 0; }
  // The quota in bytes (-1 without one).
  int64_t limit() const { return limit_; }
  // etcd's quota.Available: true if `request` costs nothing or the size
  // plus its cost stays below the quota.
  bool Available(const kvpb::InternalRequest& request) const;
  // The same for a cost already computed.
  bool AvailableFor(int64_t cost) const;
  // The size, at most `refresh` old.
  int64_t Size() const ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the cached size (after a defragmentation freed space).
  void Invalidate() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const int64_t limit_;
  const std::function<int64_t()> size_;
  const absl::Duration refresh_;
  mutable absl::Mutex mu_;
  mutable int64_t cached_ ABSL_GUARDED_BY(mu_) = 0;
  // absl::InfinitePast() when no size is cached.
  mutable absl::Time cached_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_QUOTA_H_
