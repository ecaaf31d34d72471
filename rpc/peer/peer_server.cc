#include "rpc/peer/peer_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "rpc/peer/peer_channel.h"

namespace raftkv::rpc {
namespace {

// gRPC reports a failed bind only as a null server. To name the cause, try
// the bind ourselves (IPv4 literals only, the common case) and return
// strerror, or a generic reason.
std::string WhyBindFails(const std::string& target) {
  const size_t colon = target.rfind(':');
  uint32_t port = 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (!absl::SimpleAtoi(target.substr(colon + 1), &port) ||
      inet_pton(AF_INET, target.substr(0, colon).c_str(), &addr.sin_addr) !=
          1) {
    return "the address is in use or not available on this host";
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::strerror(errno);
  const int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(fd);
  if (rc != 0) return std::strerror(err);
  return "gRPC could not start the server";
}

}  // namespace

absl::StatusOr<PeerServer> StartPeerServer(const std::string& url,
                                           PeerService* service) {
  absl::StatusOr<std::string> target = PeerUrlToTarget(url);
  if (!target.ok()) return target.status();
  grpc::ServerBuilder builder;
  ConfigurePeerServerBuilder(&builder);
  PeerServer result;
  builder.AddListeningPort(*target, grpc::InsecureServerCredentials(),
                           &result.port);
  builder.RegisterService(service);
  result.server = builder.BuildAndStart();
  if (result.server == nullptr || result.port == 0) {
    if (result.server != nullptr) result.server->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("raftkv: cannot listen on peer URL ", url, ": ",
                     WhyBindFails(*target)));
  }
  return result;
}

}  // namespace raftkv::rpc
