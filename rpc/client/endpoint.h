// Parsing of client endpoints as etcdctl accepts them: "host:port",
// "http://host:port", "https://host:port" or a comma-separated list of those.
//
// The scheme decides the transport as in etcd's clientv3 (3.4): "http://"
// is always plaintext, "https://" always TLS, and an endpoint without a
// scheme follows the TLS options (see rpc/client/tls.h).
#ifndef RAFTKV_RPC_CLIENT_ENDPOINT_H_
#define RAFTKV_RPC_CLIENT_ENDPOINT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace raftkv::client {

enum class Scheme { kNone, kHttp, kHttps };

struct EndpointUrl {
  std::string target;  // gRPC target, "host:port" or "unix:NAME"
  Scheme scheme = Scheme::kNone;
};

// Parses one endpoint. Accepts an optional "http://" or "https://" scheme
// and a trailing "/"; a bare host gets etcd's client port 2379.
// "unix://NAME" and "unixs://NAME" become the gRPC target "unix:NAME" (the
// socket file NAME, relative to the working directory, as etcd reads it).
absl::StatusOr<EndpointUrl> ParseEndpointUrl(absl::string_view endpoint);

// Splits "a,b,c" (empty items ignored) and parses each item; InvalidArgument
// when an item is malformed or there is none.
absl::StatusOr<std::vector<EndpointUrl>> ParseEndpointUrls(
    absl::string_view list);

// The gRPC target of one endpoint: ParseEndpointUrl(endpoint)->target.
absl::StatusOr<std::string> ParseEndpoint(absl::string_view endpoint);

// The targets of ParseEndpointUrls(list).
absl::StatusOr<std::vector<std::string>> ParseEndpointList(
    absl::string_view list);

}  // namespace raftkv::client

#endif  // RAFTKV_RPC_CLIENT_ENDPOINT_H_
