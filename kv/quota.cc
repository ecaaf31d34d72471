#include "kv/quota.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"

namespace raftkv::kv {
namespace {

// etcd's estimates of what storing a key's metadata and a lease costs.
constexpr int64_t kKvOverhead = 256;
constexpr int64_t kLeaseOverhead = 64;

int64_t PutCost(const etcdserverpb::PutRequest& put) {
  return kKvOverhead + static_cast<int64_t>(put.key().size()) +
         static_cast<int64_t>(put.value().size());
}

int64_t TxnCost(const etcdserverpb::TxnRequest& txn);

int64_t OpsCost(
    const google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>& ops) {
  int64_t cost = 0;
  for (const etcdserverpb::RequestOp& op : ops) {
    if (op.has_request_put()) cost += PutCost(op.request_put());
    if (op.has_request_txn()) cost += TxnCost(op.request_txn());
  }
  return cost;
}

// Only one branch runs: the larger one is what the txn may cost.
int64_t TxnCost(const etcdserverpb::TxnRequest& txn) {
  return std::max(OpsCost(txn.success()), OpsCost(txn.failure()));
}

}  // namespace

int64_t QuotaCost(const kvpb::InternalRequest& request) {
  switch (request.request_case()) {
    case kvpb::InternalRequest::kPut:
      return PutCost(request.put());
    case kvpb::InternalRequest::kTxn:
      return TxnCost(request.txn());
    case kvpb::InternalRequest::kLeaseGrant:
      return kLeaseOverhead;
    default:
      return 0;
  }
}

BackendQuota::BackendQuota(int64_t bytes, std::function<int64_t()> size,
                           absl::Duration refresh)
    : limit_(bytes < 0    ? -1
             : bytes == 0 ? kDefaultQuotaBytes
                          : bytes),
      size_(std::move(size)),
      refresh_(refresh) {}

bool BackendQuota::Available(const kvpb::InternalRequest& request) const {
  return AvailableFor(QuotaCost(request));
}

bool BackendQuota::AvailableFor(int64_t cost) const {
  if (!enabled() || cost == 0) return true;
  return Size() + cost < limit_;
}

int64_t BackendQuota::Size() const {
  absl::MutexLock l(&mu_);
  const absl::Time now = absl::Now();
  // The walk runs under the lock: callers at the same moment wait for its
  // answer (about a millisecond) rather than each walking the directory.
  if (now - cached_at_ >= refresh_) {
    cached_ = size_();
    cached_at_ = now;
  }
  return cached_;
}

void BackendQuota::Invalidate() const {
  absl::MutexLock l(&mu_);
  cached_at_ = absl::InfinitePast();
}

}  // namespace raftkv::kv
