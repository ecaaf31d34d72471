#include "kv/errors.h"

namespace raftkv::kv {

absl::Status CompactedError() {
  return absl::OutOfRangeError(
      "etcdserver: mvcc: required revision has been compacted");
}

absl::Status FutureRevError() {
  return absl::OutOfRangeError(
      "etcdserver: mvcc: required revision is a future revision");
}

absl::Status EmptyKeyError() {
  return absl::InvalidArgumentError("etcdserver: key is not provided");
}

absl::Status KeyNotFoundError() {
  return absl::InvalidArgumentError("etcdserver: key not found");
}

absl::Status ValueProvidedError() {
  return absl::InvalidArgumentError("etcdserver: value is provided");
}

absl::Status LeaseProvidedError() {
  return absl::InvalidArgumentError("etcdserver: lease is provided");
}

absl::Status TooManyOpsError() {
  return absl::InvalidArgumentError(
      "etcdserver: too many operations in txn request");
}

absl::Status DuplicateKeyError() {
  return absl::InvalidArgumentError(
      "etcdserver: duplicate key given in txn request");
}

absl::Status LeaseNotFoundError() {
  return absl::NotFoundError("etcdserver: requested lease not found");
}

absl::Status LeaseExistError() {
  return absl::FailedPreconditionError("etcdserver: lease already exists");
}

absl::Status LeaseTtlTooLargeError() {
  return absl::OutOfRangeError("etcdserver: too large lease TTL");
}

}  // namespace raftkv::kv
