// Wiring of transport security for one member (rpc/tls does the work):
// auto-TLS certificates in the data dir, and the credentials each listener
// and each outgoing connection uses, chosen by the URLs' schemes as etcd
// does (an https URL is served and dialed with TLS, an http one without).
#ifndef RAFTKV_CMD_RAFTKV_TLS_SETUP_H_
#define RAFTKV_CMD_RAFTKV_TLS_SETUP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cmd/raftkv/config.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace raftkv::cmd {

// For --auto-tls / --peer-auto-tls: makes (once) a self-signed certificate
// in <data-dir>/fixtures/{client,peer} for the listen URLs' hosts and fills
// in its paths. Errors name the file.
absl::Status PrepareTls(ServerConfig* c);

// Credentials for dialing peers: TLS when this member's peer URLs are
// https, else null (plaintext).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> PeerDialCredentials(
    const ServerConfig& c);

// Credentials for a listener on `url` of `side` ("client" or "peer"):
// TLS for https, insecure for http.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ListenerCredentials(
    const ServerConfig& c, const std::string& side, const std::string& url);

// Credentials for this member dialing another member's client URL (lease
// keep-alive forwarding): presents this member's client certificate.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientDialCredentials(
    const ServerConfig& c);

}  // namespace raftkv::cmd

#endif  // RAFTKV_CMD_RAFTKV_TLS_SETUP_H_
