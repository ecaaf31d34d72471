// LockService: etcd 3.4's v3lock service (rpc/v3lock.proto), the
// distributed mutex of etcd's clientv3/concurrency served by the member. It
// runs etcd's recipe against this member's own KV and Watch services
// (recipe_client.h), so its keys are ordinary keys, interoperable with
// `etcdctl lock` and any client-side mutex:
//
//   - Lock(name, lease) creates "<name>/<lease in lowercase hex>" = "" with
//     the lease, unless that key exists (the same lease locking again
//     shares it). The holder is the key with the lowest create revision
//     under "<name>/"; Lock answers once every key created before its own
//     is deleted, watching the newest of them each time. Lease 0: a lease
//     of 60 s is granted (etcd's default session TTL) and never renewed. A
//     lease that does not exist fails the call (UNKNOWN "etcdserver:
//     requested lease not found"). When the caller cancels or its deadline
//     passes, the call deletes its key before it ends. As in etcd 3.4, a
//     waiter whose own lease expires keeps waiting for its predecessors.
//   - Unlock(key) deletes that key.
//
// Errors of the inner calls reach the client as etcd's do (RecipeError).
//
// Thread safety: thread-safe; every call blocks on a thread of its own
// (RecipeRunner), never on a gRPC thread.
#ifndef RAFTKV_RPC_SERVER_LOCK_SERVICE_H_
#define RAFTKV_RPC_SERVER_LOCK_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "rpc/server/recipe_client.h"
#include "rpc/v3lock.grpc.pb.h"

namespace raftkv::rpc {

class LockService final : public v3lockpb::Lock::CallbackService {
 public:
  // The member's own client services; call right after the gRPC server
  // this service is registered on is built (calls before fail with
  // UNAVAILABLE). REQUIRES: that server is shut down before this service
  // is destroyed.
  void SetChannel(std::shared_ptr<grpc::Channel> channel) {
    runner_.SetChannel(std::move(channel));
  }

  grpc::ServerUnaryReactor* Lock(grpc::CallbackServerContext* ctx,
                                 const v3lockpb::LockRequest* req,
                                 v3lockpb::LockResponse* resp) override;
  grpc::ServerUnaryReactor* Unlock(grpc::CallbackServerContext* ctx,
                                   const v3lockpb::UnlockRequest* req,
                                   v3lockpb::UnlockResponse* resp) override;

 private:
  RecipeRunner runner_;
};

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_SERVER_LOCK_SERVICE_H_
