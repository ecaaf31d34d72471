// Expected failures of the kv layer, as absl::Status values carrying etcd's
// exact gRPC code and message (clients match on the message text; see
// ETCD-COMPAT.md 1.4). The rpc layer maps them to gRPC statuses 1:1:
// absl::StatusCode and grpc::StatusCode share numbering.
#ifndef RAFTKV_KV_ERRORS_H_
#define RAFTKV_KV_ERRORS_H_

#include "absl/status/status.h"

namespace raftkv::kv {

// OUT_OF_RANGE: a read, watch or compaction below the compacted revision.
absl::Status CompactedError();
// OUT_OF_RANGE: a read or compaction above the current revision.
absl::Status FutureRevError();
// INVALID_ARGUMENT: a request (or compare) with an empty key.
absl::Status EmptyKeyError();
// INVALID_ARGUMENT: ignore_value / ignore_lease on a key that does not exist.
absl::Status KeyNotFoundError();
// INVALID_ARGUMENT: ignore_value together with a value.
absl::Status ValueProvidedError();
// INVALID_ARGUMENT: ignore_lease together with a lease.
absl::Status LeaseProvidedError();
// INVALID_ARGUMENT: a txn with more than max_txn_ops compares or ops.
absl::Status TooManyOpsError();
// INVALID_ARGUMENT: two writes to one key in one txn branch.
absl::Status DuplicateKeyError();
// NOT_FOUND: a put, revoke or keep-alive names a lease that does not exist.
absl::Status LeaseNotFoundError();
// FAILED_PRECONDITION: a grant with the ID of an existing lease.
absl::Status LeaseExistError();
// OUT_OF_RANGE: a grant with a TTL above 9,000,000,000 s.
absl::Status LeaseTtlTooLargeError();

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_ERRORS_H_
