// StartPeerServer: the gRPC server on a member's peer URL, serving only
// RaftPeer. (The client URL's server, which registers etcd's services, is
// built elsewhere; it does not serve peer traffic.)
#ifndef RAFTKV_RPC_PEER_PEER_SERVER_H_
#define RAFTKV_RPC_PEER_PEER_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "rpc/peer/peer_service.h"

namespace raftkv::rpc {

struct PeerServer {
  std::unique_ptr<grpc::Server> server;
  // The port actually bound: the URL's, or the one the kernel chose when
  // the URL says port 0 (tests).
  int port = 0;
};

// Listens on `url` ("http://host:port" or "host:port") and serves
// `service`, which must outlive the returned server. Errors name the URL,
// e.g. "raftkv: cannot listen on peer URL http://127.0.0.1:2380: Address
// already in use". Shut down with a deadline, e.g.
// server->Shutdown(std::chrono::system_clock::now()), before destroying the
// service: peer streams are long-lived, and Shutdown() without a deadline
// waits for every sender to hang up.
// Every URL of `urls` (--listen-peer-urls) is served; `result.port` is the
// first one's. `credentials` (rpc/tls) serve https URLs; null means
// plaintext, which https URLs refuse.
absl::StatusOr<PeerServer> StartPeerServer(
    const std::vector<std::string>& urls, PeerService* service,
    std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);
absl::StatusOr<PeerServer> StartPeerServer(const std::string& url,
                                           PeerService* service);

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_PEER_PEER_SERVER_H_
