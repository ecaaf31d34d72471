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
  return StartPeerServer(std::vector<std::string>{url}, service);
}

absl::StatusOr<PeerServer> StartPeerServer(
    const std::vector<std::string>& urls, PeerService* service,
    std::shared_ptr<grpc::ServerCredentials> credentials) {
  grpc::ServerBuilder builder;
  ConfigurePeerServerBuilder(&builder);
  PeerServer result;
  std::vector<int> ports(urls.size());
  std::vector<std::string> targets;
  for (size_t i = 0; i < urls.size(); ++i) {
    absl::StatusOr<std::string> target = PeerUrlToTarget(urls[i]);
    if (!target.ok()) return target.status();
    const bool tls =
        urls[i].rfind("https://", 0) == 0 || urls[i].rfind("unixs://", 0) == 0;
    if (tls && credentials == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "raftkv: peer URL ", urls[i],
          " is https but no peer TLS is configured (--peer-cert-file and "
          "--peer-key-file, or --peer-auto-tls)"));
    }
    builder.AddListeningPort(
        *target, tls ? credentials : grpc::InsecureServerCredentials(),
        &ports[i]);
    targets.push_back(*target);
  }
  builder.RegisterService(service);
  result.server = builder.BuildAndStart();
  for (size_t i = 0; i < urls.size(); ++i) {
    if (result.server == nullptr || ports[i] == 0) {
      if (result.server != nullptr) result.server->Shutdown();
      return absl::UnavailableError(
          absl::StrCat("raftkv: cannot listen on peer URL ", urls[i], ": ",
                       WhyBindFails(targets[i])));
    }
  }
  result.port = ports.empty() ? 0 : ports[0];
  return result;
}

}  // namespace raftkv::rpc
