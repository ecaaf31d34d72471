#include "rpc/tls/terminator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "rpc/tls/cert_checks.h"

namespace raftkv::rpc::tls {
namespace {

// gRPC's own default TLS 1.2 suites, used when --cipher-suites is unset so
// that gRPC and HTTP/1.1 connections on one port offer the same.
constexpr char kGrpcDefaultCiphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";
constexpr char kHttp11[] = "http/1.1";

// OpenSSL's queued errors as one sentence (and the queue emptied).
std::string OpenSslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

// Chooses "http/1.1" among the client's ALPN offer, else answers no ALPN.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen,
               const unsigned char* in, unsigned int inlen, void*) {
  unsigned int i = 0;
  while (i < inlen) {
    const unsigned int n = in[i];
    if (i + 1 + n > inlen) break;
    if (n == sizeof(kHttp11) - 1 && std::memcmp(in + i + 1, kHttp11, n) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(n);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string RemoteAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  char ip[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return "unknown";
  }
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
    port = ntohs(a->sin6_port);
  } else {
    return "local socket";
  }
  return absl::StrCat(ip, ":", port);
}

struct timespec Mtime(const std::string& path) {
  struct stat st {};
  if (path.empty() || stat(path.c_str(), &st) != 0) return {};
  return st.st_mtim;
}

bool Same(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

}  // namespace

bool Terminator::Files::operator==(const Files& o) const {
  return Same(cert, o.cert) && Same(key, o.key) && Same(ca, o.ca);
}

absl::StatusOr<std::unique_ptr<Terminator>> Terminator::Create(
    const TlsInfo& info) {
  auto t = std::unique_ptr<Terminator>(new Terminator(info));
  const Files files = t->Stat();
  auto ctx = t->Build();
  if (!ctx.ok()) return ctx.status();
  absl::MutexLock l(&t->mu_);
  t->ctx_ = *ctx;
  t->files_ = files;
  t->checked_ = absl::Now();
  return t;
}

Terminator::Files Terminator::Stat() const {
  return {Mtime(info_.cert_file), Mtime(info_.key_file),
          Mtime(info_.trusted_ca_file)};
}

absl::StatusOr<Terminator::Ctx> Terminator::Build() const {
  ERR_clear_error();
  Ctx ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return absl::InternalError(OpenSslErrors());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION);
  const std::string ciphers =
      CipherList().empty() ? kGrpcDefaultCiphers : CipherList();
  const std::string side = info_.side == "peer" ? "--peer-" : "--";
  if (SSL_CTX_set_cipher_list(c, ciphers.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("raftkv: --cipher-suites: OpenSSL refuses ", ciphers, ": ",
                     OpenSslErrors()));
  }
  if (SSL_CTX_use_certificate_chain_file(c, info_.cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("raftkv: ", side, "cert-file ", info_.cert_file, ": ",
                     OpenSslErrors()));
  }
  if (SSL_CTX_use_PrivateKey_file(c, info_.key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(c) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raftkv: ", side, "key-file ", info_.key_file, ": ", OpenSslErrors()));
  }
  // As ServerCredentials: a CA file or client-cert-auth requires a client
  // certificate signed by that CA.
  if (!info_.trusted_ca_file.empty() || info_.client_cert_auth) {
    const char* ca = info_.trusted_ca_file.c_str();
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca);
    if (info_.trusted_ca_file.empty() ||
        SSL_CTX_load_verify_locations(c, ca, nullptr) != 1 ||
        names == nullptr) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return absl::InvalidArgumentError(
          absl::StrCat("raftkv: ", side, "trusted-ca-file ",
                       info_.trusted_ca_file, ": ", OpenSslErrors()));
    }
    SSL_CTX_set_client_CA_list(c, names);  // takes `names`
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       nullptr);
  }
  // Needed for session resumption together with client verification.
  static const unsigned char kSessionContext[] = "raftkv-client";
  SSL_CTX_set_session_id_context(c, kSessionContext,
                                 sizeof(kSessionContext) - 1);
  SSL_CTX_set_alpn_select_cb(c, SelectAlpn, nullptr);
  return ctx;
}

Terminator::Ctx Terminator::Current() {
  absl::MutexLock l(&mu_);
  const absl::Time now = absl::Now();
  if (now - checked_ < absl::Seconds(1)) return ctx_;
  checked_ = now;
  const Files files = Stat();
  if (files == files_) return ctx_;
  // Built under mu_: at most once a second, and only when a file changed.
  auto ctx = Build();
  if (!ctx.ok()) {
    // Mid-rotation (a new certificate beside the old key): keep the
    // previous pair and look again at the next check.
    LogRefusal(absl::StrCat("TLS files on the ", info_.side,
                            " port changed but do not load (keeping the "
                            "previous ones): ",
                            ctx.status().message()));
    return ctx_;
  }
  files_ = files;
  ctx_ = *ctx;
  return ctx_;
}

absl::StatusOr<SslPtr> Terminator::Accept(int fd, absl::Time deadline) {
  Ctx ctx = Current();
  ERR_clear_error();
  SslPtr ssl(SSL_new(ctx.get()));  // holds its own reference to ctx
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    return absl::ResourceExhaustedError(OpenSslErrors());
  }
  absl::Status failed;
  while (true) {
    const int rc = SSL_accept(ssl.get());
    if (rc == 1) break;
    const int err = SSL_get_error(ssl.get(), rc);
    short events = 0;
    if (err == SSL_ERROR_WANT_READ) events = POLLIN;
    if (err == SSL_ERROR_WANT_WRITE) events = POLLOUT;
    if (events == 0) {
      failed = absl::UnauthenticatedError(
          err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0
              ? std::string("the client closed the connection")
              : OpenSslErrors());
      break;
    }
    pollfd p{fd, events, 0};
    const int64_t ms =
        std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    const int n = poll(&p, 1, static_cast<int>(ms));
    if (n == 0) {
      failed = absl::DeadlineExceededError("TLS handshake timed out");
      break;
    }
    if (n < 0 && errno != EINTR) {
      failed = absl::UnavailableError(strerror(errno));
      break;
    }
  }
  if (failed.ok()) failed = CheckPeer(ssl.get());
  if (!failed.ok()) {
    LogRefusal(absl::StrCat("rejected connection on the ", info_.side,
                            " port from \"", RemoteAddress(fd), "\" (error \"",
                            failed.message(), "\")"));
    return failed;
  }
  return ssl;
}

absl::Status Terminator::CheckPeer(SSL* ssl) const {
  if (info_.crl_file.empty()) return absl::OkStatus();
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return absl::OkStatus();  // none was required
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  X509_free(cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<size_t>(std::max<long>(n, 0)));
  BIO_free(bio);
  auto crl = ReadFile(info_.crl_file);
  if (!crl.ok()) {
    return absl::UnavailableError(
        absl::StrCat(info_.side == "peer" ? "--peer-" : "--", "crl-file ",
                     info_.crl_file, ": ", crl.status().message()));
  }
  return CheckNotRevoked(pem, *crl);
}

}  // namespace raftkv::rpc::tls
