// Conversion of gRPC statuses to absl::Status, keeping the code and etcd's
// message verbatim (clients match on both).
#ifndef RAFTKV_RPC_CLIENT_STATUS_H_
#define RAFTKV_RPC_CLIENT_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace raftkv::client {

// Same code (gRPC and absl share numeric values) and message. A deadline
// that expired in the client becomes "context deadline exceeded", the text
// etcdctl prints for it.
absl::Status FromGrpcStatus(const grpc::Status& status);

// DEADLINE_EXCEEDED "context deadline exceeded".
absl::Status DeadlineExceededStatus();

}  // namespace raftkv::client

#endif  // RAFTKV_RPC_CLIENT_STATUS_H_
