// PeerSocket: whether the HTTP client of a request being served is still
// connected.
//
// cpp-httplib 0.11 notices a closed connection only when a write to it fails,
// so a JSON watch with no events would keep its gRPC stream (and the serving
// thread) forever after curl quits. Go's net/http, which etcd's gateway runs
// on, cancels the request as soon as the connection reaches EOF; PeerSocket
// gives the gateway the same signal: it finds the accepted socket of a
// request by its four addresses (httplib gives them, not the descriptor) and
// polls it for a hang-up.
//
// Lifetime: httplib closes a connection's socket only after the handler and
// content provider of its current request have returned, so the descriptor
// found stays this connection's while they run; use a PeerSocket only there.
#ifndef RAFTKV_RPC_GATEWAY_PEER_SOCKET_H_
#define RAFTKV_RPC_GATEWAY_PEER_SOCKET_H_

#include <string>

namespace raftkv::rpc::gateway {

class PeerSocket {
 public:
  // The socket whose local and peer addresses are these (numeric host, as
  // httplib writes Request::local_addr / remote_addr). When none matches
  // (e.g. the connection came through a proxy in this process that is not a
  // TCP socket), Connected() always answers true and only a failed write
  // ends a stream.
  static PeerSocket Find(const std::string& local_addr, int local_port,
                         const std::string& remote_addr, int remote_port);

  // False once the client has closed or reset the connection (or half-closed
  // it: an HTTP/1.1 client sends nothing after its request, so EOF means it
  // is gone, as for Go's net/http). Never blocks.
  bool Connected() const;

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

}  // namespace raftkv::rpc::gateway

#endif  // RAFTKV_RPC_GATEWAY_PEER_SOCKET_H_
