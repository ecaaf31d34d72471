// Copying a connection's bytes, both ways and unchanged, to another socket:
// how an https client port hands a gRPC client's TLS connection to gRPC's
// own TLS listener on loopback (client_mux.h). The bytes move through a
// pipe per direction with splice(2), so they never enter user space.
#ifndef RAFTKV_RPC_HTTP_FORWARD_H_
#define RAFTKV_RPC_HTTP_FORWARD_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace raftkv::rpc::http {

// A non-blocking TCP socket connected to 127.0.0.1:`port` (TCP_NODELAY),
// or the error, within `timeout`.
absl::StatusOr<int> ConnectLoopback(int port, absl::Duration timeout);

// Copies bytes from `a` to `b` and from `b` to `a` (both connected,
// non-blocking sockets) until both directions have ended: a side's end of
// stream is passed on as a shutdown(SHUT_WR) of the other, once what it
// sent before has been delivered. Returns early when either socket fails
// or is shut down both ways (how a caller stops it from another thread).
// Closes neither socket.
void Forward(int a, int b);

}  // namespace raftkv::rpc::http

#endif  // RAFTKV_RPC_HTTP_FORWARD_H_
