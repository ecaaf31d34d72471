#include "rpc/http/client_mux.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/server_posix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "rpc/http/client_hello.h"
#include "rpc/http/forward.h"

namespace raftkv::rpc::http {

class HttpServer::Connection : public httplib::Stream {
 public:
  // Bytes already read from the socket and not yet consumed (a pipelined
  // request), which a poll of the socket would not see.
  virtual size_t buffered() const = 0;
};

namespace {

// What every HTTP/2 client (gRPC included) sends first (RFC 9113, 3.4).
constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr size_t kPrefaceSize = sizeof(kPreface) - 1;

// Whether `fd` becomes readable (or hung up) within `timeout`.
bool WaitReadable(int fd, absl::Duration timeout) {
  pollfd p{fd, POLLIN, 0};
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const int ms = static_cast<int>(std::max<int64_t>(
        0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    const int rc = poll(&p, 1, ms);
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

bool WaitWritable(int fd, absl::Duration timeout) {
  pollfd p{fd, POLLOUT, 0};
  const int rc =
      poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  return rc > 0 && (p.revents & POLLOUT) != 0;
}

std::string Address(const sockaddr_storage& addr, int* port) {
  char ip[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
    *port = ntohs(a->sin6_port);
  }
  return ip;
}

// httplib's Stream over a connected socket (non-blocking: every wait is a
// poll bounded by the server's read or write timeout). Reads are buffered:
// httplib reads request lines a byte at a time.
class FdStream : public HttpServer::Connection {
 public:
  FdStream(int fd, absl::Duration read_timeout, absl::Duration write_timeout)
      : fd_(fd), read_timeout_(read_timeout), write_timeout_(write_timeout) {}

  // Bytes read from the socket and not yet consumed (a pipelined request).
  size_t buffered() const override { return end_ - begin_; }

  bool is_readable() const override {
    return buffered() > 0 || WaitReadable(fd_, read_timeout_);
  }
  bool is_writable() const override {
    return WaitWritable(fd_, write_timeout_);
  }
  ssize_t read(char* ptr, size_t size) override {
    if (buffered() == 0) {
      if (!WaitReadable(fd_, read_timeout_)) return -1;
      const ssize_t n = recv(fd_, buf_, sizeof(buf_), 0);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, buffered());
    std::memcpy(ptr, buf_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!WaitWritable(fd_, write_timeout_)) return -1;
    return send(fd_, ptr, size, MSG_NOSIGNAL);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      ip = Address(addr, &port);
    }
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      ip = Address(addr, &port);
    }
  }
  int socket() const override { return fd_; }

 private:
  const int fd_;
  const absl::Duration read_timeout_;
  const absl::Duration write_timeout_;
  char buf_[4096];
  size_t begin_ = 0;  // Invariant: begin_ <= end_ <= sizeof(buf_)
  size_t end_ = 0;
};

// httplib's Stream over a TLS session on a non-blocking socket; waits as
// FdStream does. OpenSSL buffers the decrypted record, so httplib's
// byte-at-a-time reads cost no system call each.
class SslStream : public FdStream {
 public:
  SslStream(SSL* ssl, int fd, absl::Duration read_timeout,
            absl::Duration write_timeout)
      : FdStream(fd, read_timeout, write_timeout),
        ssl_(ssl),
        fd_(fd),
        read_timeout_(read_timeout),
        write_timeout_(write_timeout) {}

  size_t buffered() const override {
    return static_cast<size_t>(SSL_pending(ssl_));
  }
  bool is_readable() const override {
    return buffered() > 0 || WaitReadable(fd_, read_timeout_);
  }
  ssize_t read(char* ptr, size_t size) override {
    return Retry([&] { return SSL_read(ssl_, ptr, static_cast<int>(size)); });
  }
  ssize_t write(const char* ptr, size_t size) override {
    return Retry([&] { return SSL_write(ssl_, ptr, static_cast<int>(size)); });
  }

 private:
  // Runs `op` (SSL_read or SSL_write) until it moves bytes, waiting for the
  // socket as OpenSSL asks; 0 at the peer's close_notify, -1 on error or
  // timeout.
  template <typename Op>
  ssize_t Retry(Op op) {
    while (true) {
      const int n = op();
      if (n > 0) return n;
      switch (SSL_get_error(ssl_, n)) {
        case SSL_ERROR_WANT_READ:
          if (!WaitReadable(fd_, read_timeout_)) return -1;
          break;
        case SSL_ERROR_WANT_WRITE:
          if (!WaitWritable(fd_, write_timeout_)) return -1;
          break;
        case SSL_ERROR_ZERO_RETURN:
          return 0;
        default:
          return -1;
      }
    }
  }

  SSL* const ssl_;
  const int fd_;
  const absl::Duration read_timeout_;
  const absl::Duration write_timeout_;
};

}  // namespace

HttpServer::HttpServer() {
  svr_sock_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

HttpServer::~HttpServer() {
  const int placeholder = svr_sock_.exchange(INVALID_SOCKET);
  if (placeholder >= 0) close(placeholder);
}

void HttpServer::Serve(int fd) {
  FdStream stream(
      fd,
      absl::Seconds(read_timeout_sec_) + absl::Microseconds(read_timeout_usec_),
      absl::Seconds(write_timeout_sec_) +
          absl::Microseconds(write_timeout_usec_));
  ServeConnection(&stream, fd);
}

void HttpServer::Serve(SSL* ssl, int fd) {
  SslStream stream(
      ssl, fd,
      absl::Seconds(read_timeout_sec_) + absl::Microseconds(read_timeout_usec_),
      absl::Seconds(write_timeout_sec_) +
          absl::Microseconds(write_timeout_usec_));
  ServeConnection(&stream, fd);
  SSL_shutdown(ssl);  // close_notify, not waiting for the client's
}

void HttpServer::ServeConnection(Connection* connection, int fd) {
  Connection& stream = *connection;
  for (size_t left = keep_alive_max_count_; left > 0; --left) {
    if (stream.buffered() == 0 &&
        !WaitReadable(fd, absl::Seconds(keep_alive_timeout_sec_))) {
      return;
    }
    bool closed = false;
    // The last request allowed on this connection is answered with
    // "Connection: close".
    if (!process_request(stream, left == 1, closed, nullptr) || closed) {
      return;
    }
  }
}

absl::StatusOr<std::unique_ptr<ClientMux>> ClientMux::Listen(
    const std::string& host, int port, ClientMuxOptions options) {
  std::string name = host == "localhost" ? "127.0.0.1" : host;
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = absl::StrCat(port);
  if (const int rc = getaddrinfo(name.c_str(), service.c_str(), &hints, &res);
      rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot listen on ", host, ":", port,
                     " (a numeric address is needed): ", gai_strerror(rc)));
  }
  const int fd =
      socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  int err = 0;
  if (fd < 0) {
    err = errno;
  } else {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
      err = errno;
      close(fd);
    }
  }
  freeaddrinfo(res);
  int wake[2] = {-1, -1};
  if (err == 0 && pipe2(wake, O_CLOEXEC) != 0) {
    err = errno;
    close(fd);
  }
  if (err != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot listen on ", host, ":", port, ": ", strerror(err)));
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int actual = 0;
  Address(addr, &actual);
  return std::unique_ptr<ClientMux>(new ClientMux(fd, actual, wake, options));
}

absl::StatusOr<std::unique_ptr<ClientMux>> ClientMux::ListenUnix(
    const std::string& path, ClientMuxOptions options) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot listen on unix socket \"", path, "\": the path must be 1 to ",
        sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  // A socket file left by an earlier run (as etcd, which removes it too);
  // anything else at that path is not ours to remove.
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    unlink(path.c_str());
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int err = 0;
  if (fd < 0) {
    err = errno;
  } else if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
             listen(fd, SOMAXCONN) != 0) {
    err = errno;
    close(fd);
  }
  int wake[2] = {-1, -1};
  if (err == 0 && pipe2(wake, O_CLOEXEC) != 0) {
    err = errno;
    close(fd);
  }
  if (err != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot listen on unix socket \"", path, "\": ", strerror(err)));
  }
  return std::unique_ptr<ClientMux>(new ClientMux(fd, 0, wake, options));
}

ClientMux::ClientMux(int listen_fd, int port, const int wake[2],
                     ClientMuxOptions options)
    : listen_fd_(listen_fd),
      port_(port),
      options_(options),
      wake_{wake[0], wake[1]} {}

ClientMux::~ClientMux() {
  Stop();
  close(wake_[0]);
  close(wake_[1]);
}

void ClientMux::Stop() {
  stopping_ = true;
  if (accept_thread_.joinable()) {
    const char byte = 0;
    while (::write(wake_[1], &byte, 1) < 0 && errno == EINTR) {
    }
    accept_thread_.join();
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
  }
  std::map<uint64_t, std::thread> threads;
  {
    absl::MutexLock l(&mu_);
    // Wakes every connection's poll or read; its thread then returns.
    for (int fd : conn_fds_) shutdown(fd, SHUT_RDWR);
    threads.swap(conn_threads_);
  }
  for (auto& [id, t] : threads) t.join();
}

void ClientMux::Start(grpc::Server* grpc, HttpServer* http, int grpc_tls_port) {
  grpc_ = grpc;
  http_ = http;
  grpc_tls_port_ = grpc_tls_port;
  if (options_.tls != nullptr) hello_.resize(kMaxClientHelloBytes);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

ClientMux::Stats ClientMux::stats() const {
  Stats s;
  s.grpc = grpc_count_;
  s.http = http_count_;
  s.silent = silent_count_;
  s.closed = closed_count_;
  s.refused = refused_count_;
  s.malformed = malformed_count_;
  s.tls_failed = tls_failed_count_;
  return s;
}

void ClientMux::AcceptLoop() {
  std::vector<Pending> pending;
  std::vector<pollfd> fds;
  while (!stopping_) {
    JoinFinished();
    fds.assign({{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}});
    const absl::Time now = absl::Now();
    // At most a second between rounds, so finished HTTP threads are joined.
    absl::Time next = now + absl::Seconds(1);
    for (const Pending& p : pending) {
      // A partial preface is already readable: poll it for errors only and
      // look again soon.
      fds.push_back({p.fd, static_cast<short>(p.partial ? 0 : POLLIN), 0});
      next =
          std::min(next, p.partial ? now + absl::Milliseconds(10) : p.deadline);
    }
    const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(
        std::max(next - now, absl::ZeroDuration()), absl::Milliseconds(1)));
    if (poll(fds.data(), fds.size(), static_cast<int>(ms)) < 0 &&
        errno != EINTR) {
      std::fprintf(stderr, "raftkv: client mux: poll: %s\n", strerror(errno));
      break;
    }
    if (fds[1].revents != 0) break;
    const absl::Time after = absl::Now();
    std::vector<Pending> waiting;
    for (size_t i = 0; i < pending.size(); ++i) {
      Pending p = pending[i];
      Kind kind = Kind::kWait;
      if (fds[2 + i].revents != 0 || p.partial) {
        kind = options_.tls != nullptr ? ClassifyTls(p.fd) : Classify(p.fd);
      }
      switch (kind) {
        case Kind::kGrpc: {
          if (options_.tls != nullptr) {
            ServeForwarded(p.fd);
            break;
          }
          const int one = 1;
          setsockopt(p.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          ++grpc_count_;
          grpc::AddInsecureChannelFromFd(grpc_, p.fd);  // gRPC owns it now
          break;
        }
        case Kind::kHttp:
          ServeHttp(p.fd);
          break;
        case Kind::kClosed:
          ++closed_count_;
          close(p.fd);
          break;
        case Kind::kMalformed:
          ++malformed_count_;
          close(p.fd);
          break;
        case Kind::kWait:
        case Kind::kPartial:
          if (after >= p.deadline) {
            ++silent_count_;
            close(p.fd);
          } else {
            p.partial = kind == Kind::kPartial;
            waiting.push_back(p);
          }
          break;
      }
    }
    pending.swap(waiting);
    if (fds[0].revents != 0) AcceptAll(&pending);
  }
  for (const Pending& p : pending) close(p.fd);
}

void ClientMux::AcceptAll(std::vector<Pending>* pending) {
  while (true) {
    const int fd =
        accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // EAGAIN: none left. EMFILE and the like: the connection stays in the
      // backlog and is tried again next round.
      return;
    }
    if (pending->size() >= static_cast<size_t>(options_.max_pending)) {
      ++refused_count_;
      close(fd);
      continue;
    }
    pending->push_back({fd, absl::Now() + options_.sniff_timeout, false});
  }
}

ClientMux::Kind ClientMux::Classify(int fd) {
  char buf[kPrefaceSize];
  const ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK);
  if (n < 0) {
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
               ? Kind::kWait
               : Kind::kClosed;
  }
  if (n == 0) return Kind::kClosed;
  if (std::memcmp(buf, kPreface, static_cast<size_t>(n)) != 0) {
    return Kind::kHttp;
  }
  return static_cast<size_t>(n) == kPrefaceSize ? Kind::kGrpc : Kind::kPartial;
}

ClientMux::Kind ClientMux::ClassifyTls(int fd) {
  const ssize_t n = recv(fd, hello_.data(), hello_.size(), MSG_PEEK);
  if (n < 0) {
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
               ? Kind::kWait
               : Kind::kClosed;
  }
  if (n == 0) return Kind::kClosed;
  const ClientHello hello =
      ParseClientHello(hello_.data(), static_cast<size_t>(n));
  switch (hello.result) {
    case ClientHello::Result::kIncomplete:
      return Kind::kPartial;
    case ClientHello::Result::kMalformed:
    case ClientHello::Result::kTooLarge:
      return Kind::kMalformed;
    case ClientHello::Result::kComplete:
      break;
  }
  // gRPC clients offer "h2" alone; anything offering HTTP/1.1, or no ALPN
  // at all (an older curl or openssl s_client), is served here.
  bool http11 = hello.alpn.empty();
  for (const std::string& p : hello.alpn) http11 = http11 || p == "http/1.1";
  return http11 ? Kind::kHttp : Kind::kGrpc;
}

void ClientMux::ServeHttp(int fd) {
  if (options_.tls == nullptr) {
    RunConnection(fd, false, [this, fd] { http_->Serve(fd); });
    return;
  }
  RunConnection(fd, false, [this, fd] {
    auto ssl =
        options_.tls->Accept(fd, absl::Now() + options_.handshake_timeout);
    if (!ssl.ok()) {
      ++tls_failed_count_;
      return;
    }
    http_->Serve(ssl->get(), fd);
  });
}

void ClientMux::ServeForwarded(int fd) {
  RunConnection(fd, true, [this, fd] {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto upstream = ConnectLoopback(grpc_tls_port_, options_.sniff_timeout);
    if (!upstream.ok()) {
      std::fprintf(stderr, "raftkv: client mux: gRPC TLS listener: %s\n",
                   std::string(upstream.status().message()).c_str());
      return;
    }
    if (AddSocket(*upstream)) {
      Forward(fd, *upstream);
      RemoveSocket(*upstream);
    }
    close(*upstream);
  });
}

void ClientMux::RunConnection(int fd, bool forwarded,
                              std::function<void()> serve) {
  absl::MutexLock l(&mu_);
  int& active = forwarded ? forwarded_active_ : http_active_;
  const int limit = forwarded ? options_.max_forwarded_connections
                              : options_.max_http_connections;
  if (active >= limit) {
    ++refused_count_;
    close(fd);
    return;
  }
  ++(forwarded ? grpc_count_ : http_count_);
  ++active;
  const uint64_t id = next_connection_++;
  conn_fds_.insert(fd);
  // The thread cannot finish before it is in conn_threads_: its last step
  // takes mu_, held here.
  conn_threads_[id] =
      std::thread([this, fd, id, forwarded, serve = std::move(serve)] {
        serve();
        absl::MutexLock l(&mu_);
        --(forwarded ? forwarded_active_ : http_active_);
        conn_fds_.erase(fd);
        close(fd);
        finished_.push_back(id);
      });
}

bool ClientMux::AddSocket(int fd) {
  absl::MutexLock l(&mu_);
  // Stop sets stopping_ before it shuts the registered sockets down under
  // mu_: a socket added after that would never be shut down.
  if (stopping_) return false;
  conn_fds_.insert(fd);
  return true;
}

void ClientMux::RemoveSocket(int fd) {
  absl::MutexLock l(&mu_);
  conn_fds_.erase(fd);
}

void ClientMux::JoinFinished() {
  std::vector<std::thread> done;
  {
    absl::MutexLock l(&mu_);
    for (uint64_t id : finished_) {
      auto it = conn_threads_.find(id);
      if (it == conn_threads_.end()) continue;
      done.push_back(std::move(it->second));
      conn_threads_.erase(it);
    }
    finished_.clear();
  }
  for (std::thread& t : done) t.join();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> LoopbackChannel(
    grpc::Server* server, const grpc::ChannelArguments& args) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) !=
      0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("socketpair: ", strerror(errno)));
  }
  grpc::AddInsecureChannelFromFd(server, fds[0]);
  return grpc::CreateCustomInsecureChannelFromFd("loopback", fds[1], args);
}

}  // namespace raftkv::rpc::http
