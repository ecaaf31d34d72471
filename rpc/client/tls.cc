// Channel credentials from etcdctl's TLS flags; see tls.h.
#include "rpc/client/tls.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace raftkv::client {
namespace {

// The whole of `path`, or "<flag> <path>: <strerror>".
absl::StatusOr<std::string> ReadFlagFile(const char* flag,
                                         const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": ", std::strerror(errno)));
  }
  std::string data;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) data.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": ", std::strerror(err)));
  }
  return data;
}

// Reads a PEM file and checks that it holds what the flag promises, so that
// a wrong file is reported here rather than as a failed handshake later.
absl::StatusOr<std::string> ReadPem(const char* flag, const std::string& path,
                                    bool private_key) {
  absl::StatusOr<std::string> pem = ReadFlagFile(flag, path);
  if (!pem.ok()) return pem.status();
  if (private_key) {
    if (!absl::StrContains(*pem, "PRIVATE KEY-----")) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " ", path, ": no PEM private key in the file"));
    }
    if (absl::StrContains(*pem, "ENCRYPTED")) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, " ", path, ": encrypted private keys are not supported"));
    }
  } else if (!absl::StrContains(*pem, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": no PEM certificate in the file"));
  }
  return pem;
}

// The PEM contents of the options' files.
struct Pems {
  std::string roots;  // empty: gRPC's default roots
  std::string cert;   // empty: no client identity
  std::string key;
};

absl::StatusOr<Pems> ReadPems(const ClientTlsOptions& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        tls.cert_file.empty()
            ? absl::StrCat("--key ", tls.key_file, " given without --cert")
            : absl::StrCat("--cert ", tls.cert_file, " given without --key"));
  }
  Pems pems;
  if (!tls.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem("--cacert", tls.ca_file, false);
    if (!ca.ok()) return ca.status();
    pems.roots = *std::move(ca);
  }
  if (!tls.cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem("--cert", tls.cert_file, false);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem("--key", tls.key_file, true);
    if (!key.ok()) return key.status();
    pems.cert = *std::move(cert);
    pems.key = *std::move(key);
  }
  return pems;
}

// TLS that accepts any server certificate: gRPC's experimental TLS
// credentials with server verification off and a verifier that accepts.
std::shared_ptr<grpc::ChannelCredentials> SkipVerifyCredentials(
    const Pems& pems) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  if (!pems.cert.empty()) {
    std::vector<grpc::experimental::IdentityKeyCertPair> identity = {
        {pems.key, pems.cert}};
    options.set_certificate_provider(
        std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
            identity));
    options.watch_identity_key_cert_pairs();
  }
  options.set_verify_server_certs(false);
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  options.set_check_call_host(false);
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace

bool UsesTls(const ClientTlsOptions& tls, Scheme scheme) {
  switch (scheme) {
    case Scheme::kHttp:
      return false;
    case Scheme::kHttps:
      return true;
    case Scheme::kNone:
      break;
  }
  return !tls.ca_file.empty() || !tls.cert_file.empty() ||
         !tls.key_file.empty() || !tls.insecure_transport;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const ClientTlsOptions& tls, Scheme scheme) {
  if (!UsesTls(tls, scheme)) return grpc::InsecureChannelCredentials();
  absl::StatusOr<Pems> pems = ReadPems(tls);
  if (!pems.ok()) return pems.status();
  if (tls.insecure_skip_verify) return SkipVerifyCredentials(*pems);
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pems->roots;
  options.pem_cert_chain = pems->cert;
  options.pem_private_key = pems->key;
  return grpc::SslCredentials(options);
}

}  // namespace raftkv::client
