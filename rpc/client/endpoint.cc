// Endpoint parsing; see endpoint.h.
#include "rpc/client/endpoint.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace raftkv::client {

absl::StatusOr<EndpointUrl> ParseEndpointUrl(absl::string_view endpoint) {
  absl::string_view ep = absl::StripAsciiWhitespace(endpoint);
  EndpointUrl url;
  // unix://NAME: the socket file NAME, as etcd's clients read the URL.
  const bool unix_tls = absl::ConsumePrefix(&ep, "unixs://");
  if (unix_tls || absl::ConsumePrefix(&ep, "unix://")) {
    absl::ConsumeSuffix(&ep, "/");
    if (ep.empty() || absl::StrContains(ep, "://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed endpoint: \"", endpoint, "\""));
    }
    url.scheme = unix_tls ? Scheme::kHttps : Scheme::kHttp;
    url.target = absl::StrCat("unix:", ep);
    return url;
  }
  if (absl::ConsumePrefix(&ep, "https://")) {
    url.scheme = Scheme::kHttps;
  } else if (absl::ConsumePrefix(&ep, "http://")) {
    url.scheme = Scheme::kHttp;
  }
  absl::ConsumeSuffix(&ep, "/");
  if (ep.empty() || absl::StrContains(ep, "/") ||
      absl::StrContains(ep, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed endpoint: \"", endpoint, "\""));
  }
  // A bare host gets etcd's default client port.
  url.target =
      absl::StrContains(ep, ":") ? std::string(ep) : absl::StrCat(ep, ":2379");
  return url;
}

absl::StatusOr<std::vector<EndpointUrl>> ParseEndpointUrls(
    absl::string_view list) {
  std::vector<EndpointUrl> out;
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    absl::StatusOr<EndpointUrl> url = ParseEndpointUrl(item);
    if (!url.ok()) return url.status();
    out.push_back(*std::move(url));
  }
  if (out.empty()) return absl::InvalidArgumentError("no endpoints given");
  return out;
}

absl::StatusOr<std::string> ParseEndpoint(absl::string_view endpoint) {
  absl::StatusOr<EndpointUrl> url = ParseEndpointUrl(endpoint);
  if (!url.ok()) return url.status();
  return std::move(url->target);
}

absl::StatusOr<std::vector<std::string>> ParseEndpointList(
    absl::string_view list) {
  absl::StatusOr<std::vector<EndpointUrl>> urls = ParseEndpointUrls(list);
  if (!urls.ok()) return urls.status();
  std::vector<std::string> out;
  for (EndpointUrl& url : *urls) out.push_back(std::move(url.target));
  return out;
}

}  // namespace raftkv::client
