#include "rpc/peer/peer_channel.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace raftkv::rpc {
namespace {

int Ms(absl::Duration d) {
  return static_cast<int>(absl::ToInt64Milliseconds(d));
}

absl::Status BadUrl(const std::string& url, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("raftkv: invalid peer URL \"", url, "\": ", why));
}

}  // namespace

absl::StatusOr<std::string> PeerUrlToTarget(const std::string& url) {
  absl::string_view rest = url;
  // etcd takes a unix URL's "host" as the socket's path name, relative to
  // the working directory: unix://etcd.unix:1 is the file "etcd.unix:1".
  if (absl::ConsumePrefix(&rest, "unix://") ||
      absl::ConsumePrefix(&rest, "unixs://")) {
    absl::ConsumeSuffix(&rest, "/");
    if (rest.empty()) return BadUrl(url, "a unix URL needs a socket path");
    if (absl::StrContains(rest, "://")) return BadUrl(url, "unknown scheme");
    return absl::StrCat("unix:", rest);
  }
  if (!absl::ConsumePrefix(&rest, "https://")) {
    absl::ConsumePrefix(&rest, "http://");
  }
  if (absl::StrContains(rest, "://")) return BadUrl(url, "unknown scheme");
  absl::ConsumeSuffix(&rest, "/");
  if (absl::StrContains(rest, "/")) return BadUrl(url, "a path is not allowed");
  const size_t colon = rest.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return BadUrl(url, "expected host:port");
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(rest.substr(colon + 1), &port) || port > 65535) {
    return BadUrl(url, "the port is not a number in [0, 65535]");
  }
  return std::string(rest);
}

std::shared_ptr<grpc::Channel> NewPeerChannel(
    const std::string& target, const PeerChannelOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, Ms(options.min_backoff));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, Ms(options.max_backoff));
  // Also the minimum connect timeout: a blackholed peer is given up on after
  // max_backoff instead of gRPC's default 20 s.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, Ms(options.max_backoff));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, Ms(options.keepalive_time));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Ms(options.keepalive_timeout));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetMaxReceiveMessageSize(kMaxPeerMessageBytes);
  args.SetMaxSendMessageSize(kMaxPeerMessageBytes);
  return grpc::CreateCustomChannel(target,
                                   options.credentials
                                       ? options.credentials
                                       : grpc::InsecureChannelCredentials(),
                                   args);
}

bool IsCertificateRefusal(const std::string& error, bool tls) {
  if (tls && absl::StrContains(error, "Socket closed")) return true;
  // OpenSSL's words for the alerts a TLS server sends when it refuses the
  // client's certificate.
  for (const char* alert :
       {"alert bad certificate", "alert certificate required",
        "alert unknown ca", "alert certificate revoked",
        "alert certificate unknown", "alert handshake failure"}) {
    if (absl::StrContains(error, alert)) return true;
  }
  return false;
}

void ConfigurePeerServerBuilder(grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(kMaxPeerMessageBytes);
  builder->SetMaxSendMessageSize(kMaxPeerMessageBytes);
  // Without this, gRPC sets SO_REUSEPORT and a second member configured
  // with the same peer URL would silently share the port.
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // A connection that never completes its handshake (a client that opens
  // TLS and sends nothing) is dropped after this, instead of gRPC's 120 s.
  builder->AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 5000);
  // Accept the senders' keepalive pings (the default policy answers pings
  // more frequent than 5 minutes with GOAWAY "too_many_pings").
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
}

}  // namespace raftkv::rpc
