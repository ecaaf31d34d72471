// ClientMux: one client port serving both gRPC and HTTP/1.1, as etcd's
// client port does (etcd uses cmux, and on TLS ports its own listener).
//
// The mux owns the listening socket. Each accepted connection is held, with
// no thread of its own, until its first bytes arrive (peeked with MSG_PEEK,
// so nothing is consumed). On a plain (http://) port:
//   - the HTTP/2 connection preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") ->
//     the file descriptor is handed to the gRPC server
//     (grpc::AddInsecureChannelFromFd): from then on gRPC alone reads it, so
//     the mux adds nothing to the cost of an RPC;
//   - anything else -> HTTP/1.1, served in-process by an HttpServer (a
//     cpp-httplib server) on a thread of the connection's own.
// On a TLS (https://) port the first bytes are the TLS ClientHello, whose
// ALPN list (client_hello.h) decides:
//   - only "h2" (and no "http/1.1") offered, as gRPC clients do (grpc-go,
//     gRPC C++, grpc-js) -> the bytes are forwarded unchanged, both ways,
//     to gRPC's own TLS listener on 127.0.0.1 (forward.h), on a thread of
//     the connection's own: gRPC does the handshake, with its credentials;
//   - "http/1.1" offered (curl: "h2,http/1.1"), or no ALPN -> the mux
//     terminates TLS itself (rpc/tls/terminator.h, the same flags as
//     gRPC's credentials) and serves HTTP/1.1 over it as above;
//   - a malformed ClientHello, one over one record, or bytes that are not
//     TLS -> closed and counted.
// Everywhere: nothing within `sniff_timeout`, or the peer closes first ->
// closed and counted, so silent connections cannot pile up.
//
// Thread safety: Start, stats and the destructor may be called from any
// thread. One accept thread (named job: accept and classify) owns the
// listening socket and the connections still being classified; each HTTP
// or forwarded connection runs on its own thread, joined by the accept
// thread once done and by the destructor at the latest.
#ifndef RAFTKV_RPC_HTTP_CLIENT_MUX_H_
#define RAFTKV_RPC_HTTP_CLIENT_MUX_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "httplib.h"
#include "rpc/tls/terminator.h"

namespace raftkv::rpc::http {

// A cpp-httplib server that serves connections somebody else accepted.
// httplib::Server accepts on its own socket only; its per-request step
// (process_request) is protected, so this subclass runs the keep-alive loop
// itself over a Stream on the given socket. Routes are registered with the
// usual Get/Post/... before the first Serve.
//
// Thread safety: as httplib::Server once its routes are registered: Serve
// may run on many threads at once.
class HttpServer : public httplib::Server {
 public:
  // httplib ends every streamed (chunked) response at once when its server
  // socket is unset, taking that for "shutting down"; this server never
  // listens itself, so it holds a placeholder descriptor (/dev/null) there
  // for as long as it lives. Without it the gateway's Watch and
  // LeaseKeepAlive streams closed before their first response.
  HttpServer();
  ~HttpServer() override;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Serves HTTP/1.1 requests on the connected socket `fd` until the client
  // closes it, it stays idle past the keep-alive timeout, the keep-alive
  // request limit is reached, or a request is malformed (answered 400).
  // Does not close `fd`.
  void Serve(int fd);
  // The same over the TLS session `ssl` on `fd` (handshake done); sends
  // close_notify at the end. Frees neither.
  void Serve(SSL* ssl, int fd);

  // A connection's httplib::Stream that knows whether bytes it already
  // read wait to be consumed (defined in the .cc).
  class Connection;

 private:
  void ServeConnection(Connection* stream, int fd);
};

struct ClientMuxOptions {
  // A connection that sends nothing identifiable within this long is closed.
  absl::Duration sniff_timeout = absl::Seconds(3);
  // HTTP/1.1 connections served at once; more are closed on arrival.
  int max_http_connections = 64;
  // Connections accepted but not yet classified; more are closed on arrival.
  int max_pending = 1024;
  // For an https URL: terminates TLS for HTTP/1.1 clients (not owned; must
  // outlive the mux). Null for http URLs.
  rpc::tls::Terminator* tls = nullptr;
  // TLS only: a handshake the mux terminates must end within this long.
  absl::Duration handshake_timeout = absl::Seconds(5);
  // TLS only: gRPC connections forwarded at once; more are closed.
  int max_forwarded_connections = 4096;
};

class ClientMux {
 public:
  // Connection counts since start, by outcome.
  struct Stats {
    int64_t grpc = 0;     // handed to the gRPC server
    int64_t http = 0;     // served as HTTP/1.1
    int64_t silent = 0;   // closed: nothing within sniff_timeout
    int64_t closed = 0;   // the peer closed (or failed) before sending
    int64_t refused = 0;  // closed on arrival: too many pending or HTTP
    // TLS ports only.
    int64_t malformed = 0;   // not a ClientHello, or over one record
    int64_t tls_failed = 0;  // the handshake the mux terminates failed
  };

  // Binds and listens on `host`:`port` (a numeric IPv4 address or
  // "localhost"; port 0 picks a free one, see port()). Serves nothing until
  // Start.
  static absl::StatusOr<std::unique_ptr<ClientMux>> Listen(
      const std::string& host, int port, ClientMuxOptions options = {});
  // Binds and listens on the unix socket `path` (a socket file already
  // there is replaced; port() is 0). Serves nothing until Start.
  static absl::StatusOr<std::unique_ptr<ClientMux>> ListenUnix(
      const std::string& path, ClientMuxOptions options = {});
  ~ClientMux();  // Stop()s
  ClientMux(const ClientMux&) = delete;
  ClientMux& operator=(const ClientMux&) = delete;

  // Stops accepting (closes the listening socket, resetting connections
  // not accepted yet), closes every connection still being classified, ends
  // the HTTP connections (their sockets are shut down) and joins every
  // thread. Connections already handed to gRPC are gRPC's. Idempotent;
  // stats() stays valid after it. REQUIRES: not called from an HTTP
  // handler of this mux.
  void Stop();

  // The port actually listened on.
  int port() const { return port_; }

  // Starts accepting. REQUIRES: called once; `grpc` (started, and built so
  // that it accepts channels from file descriptors: any grpc::Server does)
  // and `http` (routes registered) outlive this mux. With options.tls,
  // `grpc_tls_port` is the port of `grpc`'s TLS listener on 127.0.0.1 that
  // gRPC clients are forwarded to (and `grpc` itself is unused).
  void Start(grpc::Server* grpc, HttpServer* http, int grpc_tls_port = 0);

  Stats stats() const;

 private:
  // A connection accepted and not yet classified.
  struct Pending {
    int fd;
    absl::Time deadline;
    // Peeked bytes so far were a proper prefix of the HTTP/2 preface: wait
    // for more without polling for input (it is already there).
    bool partial = false;
  };
  // What a connection's first bytes say: gRPC, HTTP/1.1, nothing yet, a
  // proper prefix of the preface (or ClientHello) so far, the peer closed,
  // or (TLS) not a ClientHello one can serve.
  enum class Kind { kGrpc, kHttp, kWait, kPartial, kClosed, kMalformed };

  ClientMux(int listen_fd, int port, const int wake[2],
            ClientMuxOptions options);
  void AcceptLoop();
  void AcceptAll(std::vector<Pending>* pending);
  static Kind Classify(int fd);
  Kind ClassifyTls(int fd);
  void ServeHttp(int fd);
  void ServeForwarded(int fd);
  // Runs `serve` on a thread of the connection's own, unless `limit`
  // connections of its kind are already served (then `fd` is closed and
  // counted refused); closes `fd` once `serve` returns.
  void RunConnection(int fd, bool forwarded, std::function<void()> serve);
  // Registers the socket `fd` (besides the connection's own) for Stop to
  // shut down; false (and nothing registered) if Stop has begun.
  bool AddSocket(int fd) ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveSocket(int fd) ABSL_LOCKS_EXCLUDED(mu_);
  void JoinFinished() ABSL_LOCKS_EXCLUDED(mu_);

  int listen_fd_;  // -1 once Stop closed it
  const int port_;
  const ClientMuxOptions options_;
  // A pipe; written once to wake the accept thread for shutdown.
  int wake_[2];
  grpc::Server* grpc_ = nullptr;
  HttpServer* http_ = nullptr;
  int grpc_tls_port_ = 0;
  // TLS only: the ClientHello peeked so far (accept thread only).
  std::vector<char> hello_;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;

  std::atomic<int64_t> grpc_count_{0}, http_count_{0}, silent_count_{0},
      closed_count_{0}, refused_count_{0}, malformed_count_{0},
      tls_failed_count_{0};

  absl::Mutex mu_;
  // The HTTP and forwarded connections' threads, by connection number.
  std::map<uint64_t, std::thread> conn_threads_ ABSL_GUARDED_BY(mu_);
  // Connections whose thread has returned, still to be joined.
  std::vector<uint64_t> finished_ ABSL_GUARDED_BY(mu_);
  // Sockets of the connections being served (a forwarded one's two).
  // Invariant: a socket is closed only after leaving this set, so shutting
  // down the members never touches a reused descriptor.
  std::set<int> conn_fds_ ABSL_GUARDED_BY(mu_);
  int http_active_ ABSL_GUARDED_BY(mu_) = 0;
  int forwarded_active_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_connection_ ABSL_GUARDED_BY(mu_) = 0;
};

// A gRPC channel to `server` over a socketpair: a real HTTP/2 connection,
// so the server's per-connection settings (GRPC_ARG_MAX_CONCURRENT_STREAMS)
// bind what travels on it, as they bind etcd's JSON gateway, which dials its
// own client URL; InProcessChannel bypasses HTTP/2 and them. It never
// reconnects: usable until `server` shuts down. REQUIRES: `server` started.
absl::StatusOr<std::shared_ptr<grpc::Channel>> LoopbackChannel(
    grpc::Server* server,
    const grpc::ChannelArguments& args = grpc::ChannelArguments());

}  // namespace raftkv::rpc::http

#endif  // RAFTKV_RPC_HTTP_CLIENT_MUX_H_
