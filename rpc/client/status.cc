// gRPC to absl status conversion; see status.h.
#include "rpc/client/status.h"

namespace raftkv::client {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      status.error_message() == "Deadline Exceeded") {
    return DeadlineExceededStatus();
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

absl::Status DeadlineExceededStatus() {
  return absl::DeadlineExceededError("context deadline exceeded");
}

}  // namespace raftkv::client
