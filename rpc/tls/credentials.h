// TLS for a member's listeners and for the connections it dials, from
// etcd's flags (TlsInfo), built on gRPC's own TLS credentials (OpenSSL
// underneath); no cryptography is written here.
//
// Policy, as etcd 3.4 (pkg/transport's TLSInfo):
// - A server with a trusted CA file, or with client-cert-auth, requires a
//   client certificate signed by that CA; the handshake fails otherwise.
// - A CRL file, an allowed CN and an allowed hostname are checked after the
//   chain is verified, by a verifier of ours (cert_checks.h); a refused
//   connection is logged with its address and reason, as etcd logs
//   `rejected connection from "..." (error "...")`. The allowed CN and
//   hostname authenticate the members that connect; the dialing member
//   checks the server's chain and host, and learns of its own refusal from
//   the refusing member's alert.
// - Certificates, keys and CA files are read again every second, so a
//   certificate replaced on disk is used for the next handshake without a
//   restart (write the key and the certificate atomically: while they do
//   not match, the previous pair stays in use). The CRL is read at each
//   handshake.
// - Auto TLS (self-signed, self_cert.h): clients of the member skip
//   verification, as etcd's clients of a self-signed peer do.
// - Cipher suites (--cipher-suites, Go/IANA names) apply to TLS 1.2 for the
//   whole process; TLS 1.3 suites are fixed, as in Go.
#ifndef RAFTKV_RPC_TLS_CREDENTIALS_H_
#define RAFTKV_RPC_TLS_CREDENTIALS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace raftkv::rpc::tls {

// One side's TLS configuration: the client listener (--cert-file, ...) or
// the peer one (--peer-cert-file, ...).
struct TlsInfo {
  std::string cert_file;
  std::string key_file;
  std::string trusted_ca_file;
  std::string crl_file;
  bool client_cert_auth = false;
  // Self-signed; cert_file/key_file are filled in by EnsureSelfCert.
  bool auto_tls = false;
  std::string allowed_cn;
  std::string allowed_hostname;
  // "client" or "peer": names the flags in errors and the side in logs.
  std::string side = "client";

  // Whether this side has any TLS configuration at all.
  bool enabled() const { return !cert_file.empty() || auto_tls; }
};

// Checks that the files exist and parse, and the flags agree (e.g. a
// certificate without its key, an allowed CN together with an allowed
// hostname). Errors name the flag and the file.
absl::Status Validate(const TlsInfo& info);

// Credentials for a listener. REQUIRES: info.enabled() and Validate(info).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsInfo& info);

// Credentials for a connection this member dials with `info` (a peer, or a
// member's own client URL). Verifies the server's certificate against the
// trusted CA and the dialed host, unless auto TLS or `skip_verify`.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsInfo& info, bool skip_verify = false);

// Sets the TLS 1.2 cipher suites gRPC offers and accepts, from Go/IANA
// names as etcd's --cipher-suites takes them (TLS_ECDHE_RSA_WITH_AES_128_
// GCM_SHA256, ...). Must run before any credentials are made. An unknown
// or unsupported name is an error naming it.
absl::Status SetCipherSuites(const std::vector<std::string>& names);

// The OpenSSL cipher list SetCipherSuites set, "" if it set none (gRPC's
// default suites apply then). For TLS this process terminates itself
// (terminator.h), so both kinds of connection on a port offer the same.
const std::string& CipherList();

// Helpers shared with terminator.h.
// The bytes of the file at `path`; NotFound if it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// Logs `line` (a refused connection) at most once a second per distinct
// line: a peer that retries every 50 ms must not flood the log.
void LogRefusal(const std::string& line);

// --tls-min-version / --tls-max-version (etcd 3.5: TLS1.0 ... TLS1.3).
// gRPC 1.51 negotiates TLS 1.2 and 1.3 only: a minimum of TLS1.0 or TLS1.1
// is met (nothing older is ever negotiated); a range that excludes TLS 1.2
// or 1.3 cannot be honoured and is refused with an error naming the flag.
absl::Status CheckVersions(const std::string& min, const std::string& max);

}  // namespace raftkv::rpc::tls

#endif  // RAFTKV_RPC_TLS_CREDENTIALS_H_
