// Transport security of client connections: which endpoints are dialed with
// TLS, and with which certificates. Every client-side dialer of the tree
// (the client library, raftkvctl, raftkv-bench) builds its channel
// credentials here, so they all resolve etcdctl's flags the same way.
//
// Which endpoints use TLS (etcdctl 3.4 with clientv3's processCreds):
//   - "http://host:port": plaintext, whatever the options;
//   - "https://host:port": TLS;
//   - "host:port": TLS when any of ca_file, cert_file, key_file is set or
//     insecure_transport is false; plaintext otherwise.
// Verification: the server's chain against ca_file (gRPC's default roots
// when empty), and its certificate against the endpoint's host (a DNS name
// or an IP address SAN), as clientv3 does by overriding the server name
// with the endpoint's host. insecure_skip_verify accepts any server
// certificate (no chain or name check): for tests only.
//
// One deliberate difference from etcdctl: etcdctl ignores
// --insecure-skip-tls-verify for an "https://" endpoint unless some other
// TLS flag (or --insecure-transport=false) is given, and then verifies
// against the system roots; here the flag always applies to a TLS
// connection. A "host:port" endpoint with only --insecure-skip-tls-verify
// stays plaintext, as in etcdctl.
//
// Client identity (for servers with --client-cert-auth): cert_file and
// key_file, both or neither. Files are read once, when the credentials are
// built; they are PEM (keys unencrypted, as etcd's own).
#ifndef RAFTKV_RPC_CLIENT_TLS_H_
#define RAFTKV_RPC_CLIENT_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "rpc/client/endpoint.h"

namespace raftkv::client {

// etcdctl's transport-security flags, with their defaults.
struct ClientTlsOptions {
  std::string ca_file;                // --cacert
  std::string cert_file;              // --cert
  std::string key_file;               // --key
  bool insecure_skip_verify = false;  // --insecure-skip-tls-verify
  bool insecure_transport = true;     // --insecure-transport
};

// Whether an endpoint with `scheme` is dialed with TLS (rules above).
bool UsesTls(const ClientTlsOptions& tls, Scheme scheme);

// The credentials to dial an endpoint with `scheme`: insecure ones when
// !UsesTls(tls, scheme), TLS ones otherwise. Errors are INVALID_ARGUMENT
// with the flag and the file named, e.g. "--cacert /x/ca.pem: No such file
// or directory", "--cert /c.pem given without --key", "--key /k.pem: no
// PEM private key in the file". The result may be shared by any number of
// channels.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const ClientTlsOptions& tls, Scheme scheme);

}  // namespace raftkv::client

#endif  // RAFTKV_RPC_CLIENT_TLS_H_
