// Terminator: TLS terminated by this process with OpenSSL, for the
// connections on an https client URL that gRPC does not take itself (the
// client mux, rpc/http/client_mux.h, serves HTTP/1.1 over them: probes,
// /metrics, /version and the JSON gateway, as etcd does on its TLS port).
//
// It applies the same flags, with the same policy, as the gRPC credentials
// of that listener (credentials.h), so one port behaves as one listener:
// - the certificate and key (--cert-file/--key-file, or --auto-tls's pair);
//   re-read for a new connection when either file changed on disk (checked
//   at most once a second); a pair that does not load keeps the previous
//   one in use, as gRPC's file watcher does;
// - a trusted CA file or --client-cert-auth: a client certificate signed
//   by that CA is required, the handshake fails without one;
// - --client-crl-file: read at each handshake, a revoked (or unreadable:
//   fail closed) client certificate ends the connection;
// - --cipher-suites (SetCipherSuites's list, the same one gRPC uses) for
//   TLS 1.2; TLS 1.2 and 1.3 only, as gRPC (CheckVersions refuses the
//   ranges that would differ);
// - ALPN: "http/1.1" is chosen when offered; a client offering none gets
//   no ALPN answer.
// Refused handshakes are logged as credentials.h logs them (rate-limited).
//
// Thread safety: Accept may run on many threads at once; the current
// context is swapped under a mutex, and a connection holds a reference to
// the context it started with.
#ifndef RAFTKV_RPC_TLS_TERMINATOR_H_
#define RAFTKV_RPC_TLS_TERMINATOR_H_

#include <openssl/ssl.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/tls/credentials.h"

namespace raftkv::rpc::tls {

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

class Terminator {
 public:
  // REQUIRES: info.enabled() and Validate(info). Errors name the flag.
  static absl::StatusOr<std::unique_ptr<Terminator>> Create(
      const TlsInfo& info);

  // Runs the server side of a TLS handshake on the connected non-blocking
  // socket `fd` (which stays the caller's) until `deadline`. On success the
  // session is ready for SSL_read/SSL_write on `fd`; an error says why the
  // handshake or the certificate checks failed.
  absl::StatusOr<SslPtr> Accept(int fd, absl::Time deadline);

 private:
  struct Files {
    struct timespec cert {
    }, key{}, ca{};
    bool operator==(const Files& o) const;
  };
  using Ctx = std::shared_ptr<SSL_CTX>;

  explicit Terminator(const TlsInfo& info) : info_(info) {}
  absl::StatusOr<Ctx> Build() const;
  Files Stat() const;
  // The context for a new connection, rebuilt first if the files changed.
  Ctx Current() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status CheckPeer(SSL* ssl) const;

  const TlsInfo info_;
  absl::Mutex mu_;
  Ctx ctx_ ABSL_GUARDED_BY(mu_);
  Files files_ ABSL_GUARDED_BY(mu_);
  absl::Time checked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::rpc::tls

#endif  // RAFTKV_RPC_TLS_TERMINATOR_H_
