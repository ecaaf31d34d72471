// Certificate checks that gRPC's TLS stack does not make itself, done with
// OpenSSL on the PEM a handshake presented: revocation against a CRL file,
// etcd's --peer-cert-allowed-cn / --peer-cert-allowed-hostname, and the
// server-name check of a verifier that replaces gRPC's default one.
//
// Every function is pure (no global state); errors are sentences meant for
// the log line that records a refused connection, in the words etcd uses
// where it has them.
#ifndef RAFTKV_RPC_TLS_CERT_CHECKS_H_
#define RAFTKV_RPC_TLS_CERT_CHECKS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace raftkv::rpc::tls {

// The subject Common Name of the first certificate in `pem`, or "" if it
// has none. InvalidArgument if `pem` holds no certificate.
absl::StatusOr<std::string> CommonName(const std::string& pem);

// OK unless the first certificate in `cert_pem` appears in the CRL held in
// `crl_bytes` (PEM or DER) issued by the certificate's issuer. A CRL of
// another issuer revokes nothing here. PermissionDenied names the serial;
// InvalidArgument if the CRL or certificate cannot be parsed (the caller
// refuses the connection: a CRL that cannot be read fails closed).
absl::Status CheckNotRevoked(const std::string& cert_pem,
                             const std::string& crl_bytes);

// etcd's --peer-cert-allowed-cn: the certificate's CN must equal `cn`.
absl::Status CheckAllowedCommonName(const std::string& cert_pem,
                                    const std::string& cn);

// Whether the certificate is valid for `host` (a DNS name or an IP literal),
// by its subject alternative names (and, for a DNS name without any SAN,
// its CN), as a TLS client checks a server. Used for
// --peer-cert-allowed-hostname and for a client's check of the server it
// dialed.
absl::Status CheckHost(const std::string& cert_pem, const std::string& host);

}  // namespace raftkv::rpc::tls

#endif  // RAFTKV_RPC_TLS_CERT_CHECKS_H_
