// Self-signed certificates for etcd's --auto-tls and --peer-auto-tls.
//
// As etcd, the certificate and key live in a directory of the data dir
// (fixtures/client, fixtures/peer) and are made once: a member that restarts
// finds them and keeps presenting the same certificate. The key is ECDSA
// P-256, the certificate valid for a year from its creation, for both
// server and client authentication, and names the listen URLs' hosts as
// subject alternative names (IP literals as IP SANs, others as DNS names).
// Nobody can verify it against a CA: peers and clients that accept it skip
// verification, which is what auto TLS means in etcd too (encryption
// without authentication).
#ifndef RAFTKV_RPC_TLS_SELF_CERT_H_
#define RAFTKV_RPC_TLS_SELF_CERT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace raftkv::rpc::tls {

struct CertFiles {
  std::string cert_file;  // PEM certificate
  std::string key_file;   // PEM private key (PKCS#8), mode 0600
};

// Returns `dir`/cert.pem and `dir`/key.pem, creating `dir` and a new
// self-signed certificate for `hosts` unless both files already exist.
// Errors name the file that could not be written.
absl::StatusOr<CertFiles> EnsureSelfCert(const std::string& dir,
                                         const std::vector<std::string>& hosts);

}  // namespace raftkv::rpc::tls

#endif  // RAFTKV_RPC_TLS_SELF_CERT_H_
