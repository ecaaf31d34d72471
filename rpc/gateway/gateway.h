// etcd's HTTP/JSON gateway: the `/v3/...` routes etcd 3.4 serves on its
// client URL through grpc-gateway v1, answered by calls on a gRPC channel to
// the member's own services (normally grpc::Server::InProcessChannel).
//
// Wire rules, as etcd 3.4 (embed/serve.go: a default grpc-gateway ServeMux):
// - every route is POST; the body is the request message as protobuf JSON
//   (either field-name style, unknown fields ignored, an empty body is an
//   empty request); `/v3beta/...` (rewritten by etcd 3.4) and `/v3alpha/...`
//   (etcd 3.3's prefix) reach the same routes;
// - the response is the message as protobuf JSON with the .proto field names,
//   default values left out, 64-bit integers as strings, bytes in base64;
// - a failed call answers {"error":m,"message":m,"code":<gRPC code>} with the
//   HTTP status grpc-gateway maps that code to; a body that is not valid JSON
//   for the request is code 3 (InvalidArgument);
// - Watch and LeaseKeepAlive take one request message from the body, send it
//   and close their sending side, then stream every response as a chunk
//   {"result":<message>} followed by "\n"; a stream that fails after its
//   first response ends with {"error":{"grpc_code":..,"http_code":..,
//   "message":..,"http_status":..}}. Maintenance.Snapshot and
//   Election.Observe stream the same way. When the HTTP client disconnects, its
//   gRPC stream is cancelled;
// - the Authorization header travels as gRPC metadata `authorization`.
//
// Also etcd's v3lock and v3election routes (`/v3/lock`, `/v3/election/*`;
// Observe streams). Not served: the websocket upgrade etcd offers on the
// same paths.
//
// Threading: every call runs on the httplib worker thread serving the
// request; a stream holds that thread for its whole life (size the server's
// thread pool for the number of concurrent JSON watches). Nothing else is
// started.
#ifndef RAFTKV_RPC_GATEWAY_GATEWAY_H_
#define RAFTKV_RPC_GATEWAY_GATEWAY_H_

#include <grpcpp/channel.h>
#include <httplib.h>

#include <cstdint>
#include <memory>

namespace raftkv::rpc::gateway {

struct Options {
  // The member's --max-request-bytes. A body larger than twice this plus
  // 64 KiB (room for base64 and JSON framing) is refused before it is read
  // (code 8, ResourceExhausted); a smaller request that is still too large
  // gets the member's own error from the service.
  int64_t max_request_bytes = 1536 * 1024;
};

// Adds the gateway routes to `http`, calling services on `channel`. Both must
// outlive the server's serving (the routes keep `channel` alive).
void RegisterRoutes(httplib::Server* http,
                    std::shared_ptr<grpc::Channel> channel,
                    const Options& options);
// The same with default Options (etcd's 1.5 MiB request limit).
void RegisterRoutes(httplib::Server* http,
                    std::shared_ptr<grpc::Channel> channel);

}  // namespace raftkv::rpc::gateway

#endif  // RAFTKV_RPC_GATEWAY_GATEWAY_H_
