#include "kv/lessor.h"

#include <algorithm>
#include <cmath>

#include "absl/time/clock.h"

namespace raftkv::kv {

void Lessor::Reset(const std::vector<kvpb::LeaseRecord>& records) {
  absl::MutexLock l(&mu_);
  leases_.clear();
  for (const auto& r : records) {
    Lease lease;
    lease.ttl = r.ttl();
    lease.remaining_ttl = r.remaining_ttl();
    if (primary_) {
      const int64_t left =
          lease.remaining_ttl > 0 ? lease.remaining_ttl : lease.ttl;
      lease.expiry = clock_() + absl::Seconds(left);
    }
    leases_[r.id()] = lease;
  }
}

void Lessor::Granted(int64_t id, int64_t ttl) {
  absl::MutexLock l(&mu_);
  Lease lease;
  lease.ttl = ttl;
  if (primary_) lease.expiry = clock_() + absl::Seconds(ttl);
  leases_[id] = lease;
}

void Lessor::Revoked(int64_t id) {
  absl::MutexLock l(&mu_);
  leases_.erase(id);
}

void Lessor::Checkpointed(const kvpb::LeaseCheckpoint& cp) {
  absl::MutexLock l(&mu_);
  for (const auto& r : cp.leases()) {
    auto it = leases_.find(r.id());
    if (it != leases_.end()) it->second.remaining_ttl = r.remaining_ttl();
  }
}

void Lessor::Promote(absl::Duration extend) {
  absl::MutexLock l(&mu_);
  primary_ = true;
  const absl::Time now = clock_();
  for (auto& [id, lease] : leases_) {
    const int64_t left =
        lease.remaining_ttl > 0 ? lease.remaining_ttl : lease.ttl;
    lease.expiry = now + absl::Seconds(left) + extend;
    lease.revoke_proposed = absl::InfinitePast();
  }
}

void Lessor::Demote() {
  absl::MutexLock l(&mu_);
  primary_ = false;
  for (auto& [id, lease] : leases_) lease.expiry = absl::InfiniteFuture();
}

bool Lessor::is_primary() const {
  absl::MutexLock l(&mu_);
  return primary_;
}

absl::StatusOr<int64_t> Lessor::Renew(int64_t id, bool* reset_checkpoint) {
  absl::MutexLock l(&mu_);
  *reset_checkpoint = false;
  if (!primary_) return absl::FailedPreconditionError("lessor: not primary");
  auto it = leases_.find(id);
  if (it == leases_.end()) return 0;
  it->second.expiry = clock_() + absl::Seconds(it->second.ttl);
  *reset_checkpoint = it->second.remaining_ttl > 0;
  return it->second.ttl;
}

Lessor::TimeToLive Lessor::Remaining(int64_t id) const {
  absl::MutexLock l(&mu_);
  TimeToLive out;
  auto it = leases_.find(id);
  if (it == leases_.end()) return out;
  out.granted = it->second.ttl;
  if (primary_) {
    const double left = absl::ToDoubleSeconds(it->second.expiry - clock_());
    // Truncated, as etcd reports it (int64(Remaining().Seconds())): right
    // after a grant of 60 s, etcdctl shows remaining(59s) on both.
    out.remaining = std::max<int64_t>(0, static_cast<int64_t>(left));
  } else {
    out.remaining = it->second.remaining_ttl > 0 ? it->second.remaining_ttl
                                                 : it->second.ttl;
  }
  return out;
}

std::vector<int64_t> Lessor::Ids() const {
  absl::MutexLock l(&mu_);
  std::vector<int64_t> ids;
  for (const auto& [id, lease] : leases_) ids.push_back(id);
  return ids;
}

std::vector<int64_t> Lessor::Expired(size_t limit, absl::Duration retry) {
  absl::MutexLock l(&mu_);
  std::vector<int64_t> out;
  if (!primary_) return out;
  const absl::Time now = clock_();
  for (auto& [id, lease] : leases_) {
    if (out.size() >= limit) break;
    if (lease.expiry > now || now - lease.revoke_proposed < retry) continue;
    lease.revoke_proposed = now;
    out.push_back(id);
  }
  return out;
}

kvpb::LeaseCheckpoint Lessor::Checkpoint(size_t limit, int64_t after_id) const {
  absl::MutexLock l(&mu_);
  kvpb::LeaseCheckpoint cp;
  if (!primary_) return cp;
  const absl::Time now = clock_();
  for (auto it = leases_.upper_bound(after_id); it != leases_.end(); ++it) {
    const auto& [id, lease] = *it;
    if (static_cast<size_t>(cp.leases_size()) >= limit) break;
    const double left = absl::ToDoubleSeconds(lease.expiry - now);
    if (left <= 0) continue;
    kvpb::LeaseRecord* r = cp.add_leases();
    r->set_id(id);
    r->set_ttl(lease.ttl);
    r->set_remaining_ttl(static_cast<int64_t>(std::ceil(left)));
  }
  return cp;
}

}  // namespace raftkv::kv
