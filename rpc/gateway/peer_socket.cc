#include "rpc/gateway/peer_socket.h"

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>

namespace raftkv::rpc::gateway {
namespace {

// The numeric host and port of `addr`, as httplib formats them.
bool HostPort(const sockaddr_storage& addr, socklen_t len, std::string* host,
              int* port) {
  char h[NI_MAXHOST];
  char p[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, h, sizeof(h),
                  p, sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  *host = h;
  *port = std::atoi(p);
  return true;
}

bool Matches(int fd, const std::string& local_addr, int local_port,
             const std::string& remote_addr, int remote_port) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  std::string host;
  int port = 0;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      !HostPort(addr, len, &host, &port) || port != remote_port ||
      host != remote_addr) {
    return false;
  }
  len = sizeof(addr);
  return getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
         HostPort(addr, len, &host, &port) && port == local_port &&
         host == local_addr;
}

}  // namespace

PeerSocket PeerSocket::Find(const std::string& local_addr, int local_port,
                            const std::string& remote_addr, int remote_port) {
  PeerSocket found;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return found;
  const int own = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd == own) continue;
    if (Matches(fd, local_addr, local_port, remote_addr, remote_port)) {
      found.fd_ = fd;
      break;
    }
  }
  closedir(dir);
  return found;
}

bool PeerSocket::Connected() const {
  if (fd_ < 0) return true;
  pollfd p{fd_, POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return true;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0;
}

}  // namespace raftkv::rpc::gateway
