// Validation of client requests, as etcd's gRPC layer does before a request
// reaches Raft (etcdserver/api/v3rpc/key.go). MvccStore::Apply runs the same
// checks again, so a request that bypassed the server cannot corrupt the
// state machine: they depend only on the request, so every replica agrees.
#ifndef RAFTKV_KV_VALIDATE_H_
#define RAFTKV_KV_VALIDATE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "kv/kvpb.pb.h"

namespace raftkv::kv {

// etcd's default --max-txn-ops.
inline constexpr int64_t kDefaultMaxTxnOps = 128;

// Empty key → EmptyKeyError().
absl::Status ValidateRange(const etcdserverpb::RangeRequest& req);
// Empty key → EmptyKeyError(); ignore_value with a value →
// ValueProvidedError(); ignore_lease with a lease → LeaseProvidedError().
absl::Status ValidatePut(const etcdserverpb::PutRequest& req);
// Empty key → EmptyKeyError().
absl::Status ValidateDeleteRange(const etcdserverpb::DeleteRangeRequest& req);
// More than max_txn_ops compares or ops in a branch (budget shared with
// nested txns as etcd does) → TooManyOpsError(); empty key anywhere →
// EmptyKeyError(); an op with no request set → KeyNotFoundError() (etcd's
// answer); two puts, or a put and an overlapping delete, on one key in one
// branch (nested txns included) → DuplicateKeyError().
absl::Status ValidateTxn(const etcdserverpb::TxnRequest& req,
                         int64_t max_txn_ops = kDefaultMaxTxnOps);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_VALIDATE_H_
