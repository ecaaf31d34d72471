#include "rpc/tls/credentials.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "rpc/tls/cert_checks.h"

namespace raftkv::rpc::tls {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("No such file or not readable");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void LogRefusal(const std::string& line) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* last = new std::map<std::string, absl::Time>();
  absl::MutexLock l(&mu);
  absl::Time& t = (*last)[line];
  const absl::Time now = absl::Now();
  if (now - t < absl::Seconds(1)) return;
  t = now;
  std::fprintf(stderr, "raftkv: %s\n", line.c_str());
}

namespace {

// What SetCipherSuites set, for CipherList.
std::string& CipherListStore() {
  static auto* list = new std::string();
  return *list;
}

namespace gx = grpc::experimental;

// How often gRPC re-reads certificate, key and CA files (rotation).
constexpr unsigned kRefreshSeconds = 1;

std::string Flag(const TlsInfo& info, const std::string& name) {
  if (info.side == "peer") return absl::StrCat("--peer-", name);
  return absl::StrCat("--", name);
}

absl::Status CheckPemFile(const TlsInfo& info, const std::string& flag,
                          const std::string& path, const char* marker) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("raftkv: ", Flag(info, flag),
                                                   " ", path, ": ",
                                                   bytes.status().message()));
  }
  if (!absl::StrContains(*bytes, marker)) {
    return absl::InvalidArgumentError(absl::StrCat("raftkv: ", Flag(info, flag),
                                                   " ", path, ": no PEM ",
                                                   marker, " block"));
  }
  return absl::OkStatus();
}

std::string Host(const std::string& target) {
  std::string host = target;
  if (absl::StartsWith(host, "[")) {
    const size_t close = host.find(']');
    return close == std::string::npos ? host : host.substr(0, close + 1);
  }
  const size_t colon = host.rfind(':');
  if (colon != std::string::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  return host;
}

// The checks gRPC leaves to us, after it verified the chain (cert_checks.h).
class Verifier : public gx::ExternalCertificateVerifier {
 public:
  // `server`: verifying a client's certificate (else the server we dialed).
  Verifier(const TlsInfo& info, bool server, bool check_host)
      : info_(info), server_(server), check_host_(check_host) {}

  bool Verify(gx::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>,
              grpc::Status* sync_status) override {
    const std::string pem(request->peer_cert().data(),
                          request->peer_cert().size());
    absl::Status s = Check(pem, std::string(request->target_name().data(),
                                            request->target_name().size()));
    if (!s.ok()) {
      const std::string cn = CommonName(pem).value_or("");
      LogRefusal(absl::StrCat(
          server_ ? "rejected connection" : "refused server certificate",
          " on the ", info_.side, " port (error \"", s.message(),
          "\", CommonName \"", cn, "\")"));
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                  std::string(s.message()));
    } else {
      *sync_status = grpc::Status::OK;
    }
    return true;  // answered synchronously
  }
  void Cancel(gx::TlsCustomVerificationCheckRequest*) override {}

 private:
  absl::Status Check(const std::string& pem, const std::string& target) const {
    if (pem.empty()) {
      // No certificate: only possible where none is required.
      return absl::OkStatus();
    }
    if (check_host_ && !target.empty()) {
      if (absl::Status s = CheckHost(pem, Host(target)); !s.ok()) return s;
    }
    // --peer-cert-allowed-cn/-hostname authenticate the members that
    // connect to this one (etcd: "allowed CN for inter peer
    // authentication"). The dialing side checks the server's chain and the
    // URL's host only, so that a member refused for its name is told so by
    // the member refusing it ("remote error: tls: bad certificate", what
    // etcd's TestEtcdPeerCNAuth waits for) instead of refusing first.
    if (server_ && !info_.allowed_cn.empty()) {
      if (absl::Status s = CheckAllowedCommonName(pem, info_.allowed_cn);
          !s.ok()) {
        return absl::PermissionDeniedError(
            "client certificate authentication failed");
      }
    }
    if (server_ && !info_.allowed_hostname.empty()) {
      if (absl::Status s = CheckHost(pem, info_.allowed_hostname); !s.ok()) {
        return absl::PermissionDeniedError(
            "client certificate authentication failed");
      }
    }
    if (server_ && !info_.crl_file.empty()) {
      auto crl = ReadFile(info_.crl_file);
      if (!crl.ok()) {
        return absl::UnavailableError(absl::StrCat(Flag(info_, "crl-file"), " ",
                                                   info_.crl_file, ": ",
                                                   crl.status().message()));
      }
      if (absl::Status s = CheckNotRevoked(pem, *crl); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  const TlsInfo info_;
  const bool server_;
  const bool check_host_;
};

std::shared_ptr<gx::CertificateProviderInterface> Provider(const TlsInfo& info,
                                                           bool with_ca) {
  const std::string ca = with_ca ? info.trusted_ca_file : "";
  return std::make_shared<gx::FileWatcherCertificateProvider>(
      info.key_file, info.cert_file, ca, kRefreshSeconds);
}

// Go/IANA name -> OpenSSL name, for the TLS 1.2 suites Go and OpenSSL share.
const std::map<std::string, std::string>& CipherNames() {
  static const auto* names = new std::map<std::string, std::string>{
      {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
      {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
      {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
      {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
      {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
       "ECDHE-ECDSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
       "ECDHE-ECDSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
       "ECDHE-ECDSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
       "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
       "ECDHE-ECDSA-CHACHA20-POLY1305"},
  };
  return *names;
}

}  // namespace

absl::Status Validate(const TlsInfo& info) {
  if (info.auto_tls && info.cert_file.empty()) return absl::OkStatus();
  if (info.cert_file.empty() != info.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("raftkv: ", Flag(info, "cert-file"), " and ",
                     Flag(info, "key-file"), " must be given together"));
  }
  if (!info.enabled()) {
    if (!info.trusted_ca_file.empty() || info.client_cert_auth ||
        !info.crl_file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "raftkv: ", Flag(info, "trusted-ca-file"), ", ",
          Flag(info, "client-cert-auth"), " and ", Flag(info, "crl-file"),
          " need ", Flag(info, "cert-file"), " and ", Flag(info, "key-file"),
          " (or ", info.side == "peer" ? "--peer-auto-tls" : "--auto-tls",
          ")"));
    }
    return absl::OkStatus();
  }
  if (!info.allowed_cn.empty() && !info.allowed_hostname.empty()) {
    return absl::InvalidArgumentError(
        "raftkv: --peer-cert-allowed-cn and --peer-cert-allowed-hostname are "
        "mutually exclusive");
  }
  if (absl::Status s =
          CheckPemFile(info, "cert-file", info.cert_file, "CERTIFICATE");
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckPemFile(info, "key-file", info.key_file, "PRIVATE KEY");
      !s.ok()) {
    return s;
  }
  if (!info.trusted_ca_file.empty()) {
    if (absl::Status s = CheckPemFile(info, "trusted-ca-file",
                                      info.trusted_ca_file, "CERTIFICATE");
        !s.ok()) {
      return s;
    }
  }
  if (!info.crl_file.empty()) {
    auto crl = ReadFile(info.crl_file);
    if (!crl.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("raftkv: ", Flag(info, "crl-file"), " ", info.crl_file,
                       ": ", crl.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsInfo& info) {
  // etcd: a trusted CA file, or client-cert-auth, requires client
  // certificates signed by it.
  const bool require = !info.trusted_ca_file.empty() || info.client_cert_auth;
  if (require && info.trusted_ca_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("raftkv: ", Flag(info, "client-cert-auth"), " needs ",
                     Flag(info, "trusted-ca-file")));
  }
  gx::TlsServerCredentialsOptions options(Provider(info, require));
  options.watch_identity_key_cert_pairs();
  if (require) {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  options.set_certificate_verifier(
      gx::ExternalCertificateVerifier::Create<Verifier>(info, /*server=*/true,
                                                        /*check_host=*/false));
  return gx::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsInfo& info, bool skip_verify) {
  const bool verify = !skip_verify && !info.auto_tls;
  gx::TlsChannelCredentialsOptions options;
  if (info.enabled() || !info.trusted_ca_file.empty()) {
    TlsInfo files = info;
    if (!verify) files.trusted_ca_file.clear();
    options.set_certificate_provider(
        Provider(files, !files.trusted_ca_file.empty()));
    if (!files.cert_file.empty()) options.watch_identity_key_cert_pairs();
    if (!files.trusted_ca_file.empty()) options.watch_root_certs();
  }
  options.set_verify_server_certs(verify);
  options.set_certificate_verifier(
      gx::ExternalCertificateVerifier::Create<Verifier>(info, /*server=*/false,
                                                        /*check_host=*/verify));
  // The verifier checks the host; gRPC's own call-host check would refuse
  // a peer dialed by IP literal whose certificate names it only by IP.
  options.set_check_call_host(false);
  return grpc::experimental::TlsCredentials(options);
}

absl::Status SetCipherSuites(const std::vector<std::string>& names) {
  if (names.empty()) return absl::OkStatus();
  std::vector<std::string> openssl;
  for (const auto& name : names) {
    auto it = CipherNames().find(name);
    if (it == CipherNames().end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "raftkv: --cipher-suites: unsupported cipher suite \"", name, "\""));
    }
    openssl.push_back(it->second);
  }
  CipherListStore() = absl::StrJoin(openssl, ":");
  // gRPC reads this once, when it first makes TLS credentials.
  setenv("GRPC_SSL_CIPHER_SUITES", CipherListStore().c_str(), 1);
  return absl::OkStatus();
}

const std::string& CipherList() { return CipherListStore(); }

absl::Status CheckVersions(const std::string& min, const std::string& max) {
  static const std::map<std::string, int> kVersions = {
      {"", 0}, {"TLS1.0", 10}, {"TLS1.1", 11}, {"TLS1.2", 12}, {"TLS1.3", 13}};
  auto lo = kVersions.find(min);
  auto hi = kVersions.find(max);
  if (lo == kVersions.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("raftkv: --tls-min-version: unknown version \"", min,
                     "\" (TLS1.0, TLS1.1, TLS1.2 or TLS1.3)"));
  }
  if (hi == kVersions.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("raftkv: --tls-max-version: unknown version \"", max,
                     "\" (TLS1.0, TLS1.1, TLS1.2 or TLS1.3)"));
  }
  if (hi->second != 0 && lo->second > hi->second) {
    return absl::InvalidArgumentError(
        "raftkv: --tls-min-version is above --tls-max-version");
  }
  if (lo->second == 13 || (hi->second != 0 && hi->second < 13)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raftkv: --tls-min-version=", min, " --tls-max-version=", max,
        ": raftkv's TLS stack (gRPC 1.51) always negotiates TLS 1.2 and 1.3; "
        "a range without both cannot be honoured"));
  }
  return absl::OkStatus();
}

}  // namespace raftkv::rpc::tls
