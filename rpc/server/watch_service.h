// WatchService: etcd v3's Watch service (one bidirectional stream carrying
// many watchers) on top of the watch hub (kv/watch/watch_hub.h). Each call
// gets a reactor that turns requests into hub calls and the stream's queued
// messages into WatchResponses, one write at a time; large responses of
// watchers that asked for it are fragmented at --max-request-bytes.
//
// A stream whose client sent the `hasleader=true` metadata (etcdctl watch,
// clientv3's WithRequireLeader) is refused with etcd's "etcdserver: no
// leader" when the member knows no leader at the start of the call, and is
// ended with that error once the member has known no leader for three
// election timeouts in a row (etcd's monitorLeader; a client then
// reconnects to a member that has one).
#ifndef RAFTKV_RPC_SERVER_WATCH_SERVICE_H_
#define RAFTKV_RPC_SERVER_WATCH_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <vector>

#include "kv/watch/watch_hub.h"
#include "rpc/rpc.grpc.pb.h"
#include "rpc/server/etcd_server.h"

namespace raftkv::rpc {

// Ends the hasleader=true streams after three election timeouts without a
// leader (defined in watch_service.cc).
class LeaderMonitor;

class WatchService final : public etcdserverpb::Watch::CallbackService {
 public:
  // Both must outlive every call (stop the gRPC server first); the raft
  // node behind `server` must outlive this service (its leader is polled
  // until the destructor returns).
  WatchService(EtcdServer* server, kv::watch::WatchHub* hub);
  ~WatchService() override;

  grpc::ServerBidiReactor<etcdserverpb::WatchRequest,
                          etcdserverpb::WatchResponse>*
  Watch(grpc::CallbackServerContext* ctx) override;

 private:
  EtcdServer* const server_;
  kv::watch::WatchHub* const hub_;
  const std::unique_ptr<LeaderMonitor> monitor_;
};

// The WatchResponse(s) for one hub message: more than one only when the
// watcher asked for fragments and the response reaches `max_bytes` (etcd's
// sendFragments: split between events, never inside one). Headers carry
// only the revision; the caller fills in the rest.
std::vector<etcdserverpb::WatchResponse> ToResponses(
    const kv::watch::WatchMessage& m, int64_t max_bytes);

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_SERVER_WATCH_SERVICE_H_
