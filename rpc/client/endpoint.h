// Parsing of client endpoints as etcdctl accepts them: "host:port",
// "http://host:port" or a comma-separated list of those.
#ifndef RAFTKV_RPC_CLIENT_ENDPOINT_H_
#define RAFTKV_RPC_CLIENT_ENDPOINT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace raftkv::client {

// Returns the gRPC target ("host:port") for one endpoint. Accepts an optional
// "http://" scheme and a trailing "/"; "https://" and "unix://" are refused
// with InvalidArgument because the client has no TLS or unix-socket support
// yet.
absl::StatusOr<std::string> ParseEndpoint(absl::string_view endpoint);

// Splits "a,b,c" (empty items ignored) and parses each item.
absl::StatusOr<std::vector<std::string>> ParseEndpointList(
    absl::string_view list);

}  // namespace raftkv::client

#endif  // RAFTKV_RPC_CLIENT_ENDPOINT_H_
