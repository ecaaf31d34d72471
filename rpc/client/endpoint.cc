// Endpoint parsing; see endpoint.h.
#include "rpc/client/endpoint.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace raftkv::client {

absl::StatusOr<std::string> ParseEndpoint(absl::string_view endpoint) {
  absl::string_view ep = absl::StripAsciiWhitespace(endpoint);
  if (absl::StartsWith(ep, "https://") || absl::StartsWith(ep, "unix://") ||
      absl::StartsWith(ep, "unixs://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported endpoint scheme (no TLS or unix sockets): ", endpoint));
  }
  absl::ConsumePrefix(&ep, "http://");
  absl::ConsumeSuffix(&ep, "/");
  if (ep.empty() || absl::StrContains(ep, "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed endpoint: \"", endpoint, "\""));
  }
  // A bare host gets etcd's default client port.
  if (!absl::StrContains(ep, ":")) return absl::StrCat(ep, ":2379");
  return std::string(ep);
}

absl::StatusOr<std::vector<std::string>> ParseEndpointList(
    absl::string_view list) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    absl::StatusOr<std::string> target = ParseEndpoint(item);
    if (!target.ok()) return target.status();
    out.push_back(*std::move(target));
  }
  if (out.empty()) return absl::InvalidArgumentError("no endpoints given");
  return out;
}

}  // namespace raftkv::client
