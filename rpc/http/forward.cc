#include "rpc/http/forward.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace raftkv::rpc::http {
namespace {

// A pipe holds this much by default (and at least this much on Linux).
constexpr size_t kPipeBytes = 64 * 1024;

// One direction: `from` -> pipe -> `to`.
struct Half {
  int from;
  int to;
  int pipe[2] = {-1, -1};
  size_t pending = 0;  // bytes in the pipe. Invariant: <= kPipeBytes
  bool eof = false;    // `from` ended its stream
  bool done = false;   // eof, pipe drained, `to` shut down for writing

  bool wants_read() const { return !eof && pending < kPipeBytes; }
};

// Moves what can be moved without blocking. False on a socket error.
bool Pump(Half* h, bool* progress) {
  if (h->wants_read()) {
    const ssize_t n =
        splice(h->from, nullptr, h->pipe[1], nullptr, kPipeBytes - h->pending,
               SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n > 0) {
      h->pending += static_cast<size_t>(n);
      *progress = true;
    } else if (n == 0) {
      h->eof = true;
      *progress = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      return false;
    }
  }
  if (h->pending > 0) {
    const ssize_t n = splice(h->pipe[0], nullptr, h->to, nullptr, h->pending,
                             SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n > 0) {
      h->pending -= static_cast<size_t>(n);
      *progress = true;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      return false;
    }
  }
  if (h->eof && h->pending == 0 && !h->done) {
    shutdown(h->to, SHUT_WR);
    h->done = true;
    *progress = true;
  }
  return true;
}

}  // namespace

absl::StatusOr<int> ConnectLoopback(int port, absl::Duration timeout) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("socket: ", strerror(errno)));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int err = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int n =
          poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
      socklen_t len = sizeof(err);
      err = n <= 0 ? ETIMEDOUT : 0;
      if (n > 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
  }
  if (err != 0) {
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("connect to 127.0.0.1:", port, ": ", strerror(err)));
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

void Forward(int a, int b) {
  Half ab{a, b};
  Half ba{b, a};
  if (pipe2(ab.pipe, O_CLOEXEC | O_NONBLOCK) != 0) return;
  if (pipe2(ba.pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    close(ab.pipe[0]);
    close(ab.pipe[1]);
    return;
  }
  while (!(ab.done && ba.done)) {
    bool progress = false;
    if (!Pump(&ab, &progress) || !Pump(&ba, &progress)) break;
    if (progress) continue;
    pollfd p[2] = {{a, 0, 0}, {b, 0, 0}};
    if (ab.wants_read()) p[0].events |= POLLIN;
    if (ba.pending > 0) p[0].events |= POLLOUT;
    if (ba.wants_read()) p[1].events |= POLLIN;
    if (ab.pending > 0) p[1].events |= POLLOUT;
    if (poll(p, 2, -1) < 0 && errno != EINTR) break;
    const short bad = POLLERR | POLLNVAL;
    if ((p[0].revents & bad) != 0 || (p[1].revents & bad) != 0) break;
    // Hung up both ways (Stop's shutdown, or a reset): if the next pump
    // moves nothing, nothing more ever will.
    if ((p[0].revents | p[1].revents) & POLLHUP) {
      bool moved = false;
      if (!Pump(&ab, &moved) || !Pump(&ba, &moved) || !moved) break;
    }
  }
  for (int fd : {ab.pipe[0], ab.pipe[1], ba.pipe[0], ba.pipe[1]}) close(fd);
}

}  // namespace raftkv::rpc::http
