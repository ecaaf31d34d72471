// RecipeClient: the client side of etcd's concurrency recipes (its
// clientv3/concurrency package), run by the Lock and Election services
// (lock_service.h, election_service.h) against this member's own KV, Watch
// and Lease services through an in-process channel, as etcd 3.4 serves
// v3lock and v3election on top of its own client. One RecipeClient serves
// one incoming call: its RPCs carry that call's deadline and auth metadata
// (`token`, `authorization`), and Cancel() (the call was cancelled, or its
// deadline passed) aborts the RPC in flight and refuses later ones.
//
// Calls block: run them on a CallThreads thread, never on a gRPC callback
// thread.
//
// Thread safety: the RPC methods are called from one thread; Cancel() may
// be called from any thread at any time.
#ifndef RAFTKV_RPC_SERVER_RECIPE_CLIENT_H_
#define RAFTKV_RPC_SERVER_RECIPE_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rpc/rpc.grpc.pb.h"

namespace raftkv::rpc {

// etcd's defaultSessionTTL: the TTL of the lease granted for a Lock or
// Campaign request that names none (lease 0). Nothing keeps it alive.
inline constexpr int64_t kRecipeSessionTtl = 60;

// The end of the range of keys that start with `prefix` (etcd's
// GetPrefixRangeEnd); "\0" when every byte is 0xff.
std::string PrefixRangeEnd(const std::string& prefix);

// A Range of the oldest key (lowest create revision) under `prefix`
// (clientv3's WithFirstCreate).
etcdserverpb::RangeRequest FirstCreated(const std::string& prefix);

// The Txn compare "create revision of `key` == `revision`" (0: no key).
etcdserverpb::Compare CreateRevisionIs(const std::string& key,
                                       int64_t revision);

// How etcd's v3lock and v3election servers answer an error of their inner
// client: it reaches the wire as UNKNOWN with the message unchanged (e.g.
// "etcdserver: requested lease not found"); cancellation and deadline keep
// their codes.
grpc::Status RecipeError(const grpc::Status& s);

class RecipeClient {
 public:
  // `ctx` is the incoming call whose deadline and metadata the RPCs carry;
  // only read here.
  RecipeClient(std::shared_ptr<grpc::Channel> channel,
               const grpc::CallbackServerContext& ctx);

  // Aborts the RPC in flight and fails every later one (but Cleanup ones)
  // with CANCELLED.
  void Cancel();
  bool cancelled() const;

  grpc::Status Range(const etcdserverpb::RangeRequest& req,
                     etcdserverpb::RangeResponse* resp);
  grpc::Status Txn(const etcdserverpb::TxnRequest& req,
                   etcdserverpb::TxnResponse* resp);
  // Txn for the clean-up that follows a cancelled call (etcd runs it on
  // its client's own context): not cancelled, with its own 5 s deadline.
  grpc::Status CleanupTxn(const etcdserverpb::TxnRequest& req,
                          etcdserverpb::TxnResponse* resp);
  grpc::Status DeleteRange(const etcdserverpb::DeleteRangeRequest& req,
                           etcdserverpb::DeleteRangeResponse* resp);
  grpc::Status CleanupDelete(const std::string& key);

  // etcd's session lease: `lease` itself, or for 0 a fresh lease of
  // kRecipeSessionTtl seconds. etcd's session also starts (and at once
  // abandons) a keep-alive, which at most renews the lease once; that race
  // is left out, a lease named by the caller is used as it is.
  grpc::Status SessionLease(int64_t lease, int64_t* id);

  // One watch of [key, range_end) from `start_revision`; every response
  // with events goes to `on_response` until it returns false (then OK).
  // Fails when the stream ends first (CANCELLED after Cancel(); the
  // watch's cancel reason when the server cancels it, e.g. compaction).
  grpc::Status Watch(
      const std::string& key, const std::string& range_end,
      int64_t start_revision,
      const std::function<bool(const etcdserverpb::WatchResponse&)>&
          on_response);

  // etcd's waitDeletes: returns once no key under `prefix` has a create
  // revision <= `max_create_revision`, watching the newest such key until
  // it is deleted, again and again; *header is that of the last Range
  // (the one that found none).
  grpc::Status WaitDeletes(const std::string& prefix,
                           int64_t max_create_revision,
                           etcdserverpb::ResponseHeader* header);

 private:
  // Runs rpc(context) with this call's deadline and metadata, registered
  // for Cancel() unless `cleanup` (then with a deadline of its own).
  grpc::Status Run(
      bool cleanup,
      const std::function<grpc::Status(grpc::ClientContext*)>& rpc);
  grpc::Status WaitDelete(const std::string& key, int64_t revision);

  const std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  const std::unique_ptr<etcdserverpb::Watch::Stub> watch_;
  const std::unique_ptr<etcdserverpb::Lease::Stub> lease_;
  const std::chrono::system_clock::time_point deadline_;
  std::vector<std::pair<std::string, std::string>> metadata_;

  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // The contexts of RPCs in flight (one, unless Cleanup runs).
  std::set<grpc::ClientContext*> active_ ABSL_GUARDED_BY(mu_);
};

// One thread per waiting call (Lock, Campaign, Observe), ended with it: a
// thread that returned is joined by the next Start() or the destructor, so
// none outlives its call by more than that.
//
// Thread safety: thread-safe.
class CallThreads {
 public:
  CallThreads() = default;
  // Waits for every started function to return. REQUIRES: their calls end
  // (the gRPC server was shut down, which cancels them).
  ~CallThreads();
  CallThreads(const CallThreads&) = delete;
  CallThreads& operator=(const CallThreads&) = delete;

  void Start(std::function<void()> fn);

 private:
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Threads whose function has not returned, by id.
  std::map<uint64_t, std::thread> running_ ABSL_GUARDED_BY(mu_);
  // Threads whose function returned; each is at most exiting.
  std::vector<std::thread> finished_ ABSL_GUARDED_BY(mu_);
};

// What the Lock and Election services share: the channel to this member's
// own services (set once the gRPC server is built) and the threads their
// calls block on.
//
// Thread safety: thread-safe.
class RecipeRunner {
 public:
  // The member's own services, normally grpc::Server::InProcessChannel.
  // Until it is set, calls fail with UNAVAILABLE.
  void SetChannel(std::shared_ptr<grpc::Channel> channel);

  // Serves a unary call: body(client) runs on a thread of its own, its
  // status (through RecipeError) finishes the call. The client is cancelled
  // when the call is (deadline, disconnect, server shutdown).
  grpc::ServerUnaryReactor* Serve(
      grpc::CallbackServerContext* ctx,
      std::function<grpc::Status(RecipeClient&)> body);

  // Null until SetChannel.
  std::shared_ptr<grpc::Channel> channel() const;
  CallThreads& threads() { return threads_; }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
  CallThreads threads_;
};

// The status of a call that arrives before RecipeRunner::SetChannel.
grpc::Status RecipeNotReady();

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_SERVER_RECIPE_CLIENT_H_
