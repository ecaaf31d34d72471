// raftkv::client::Client — a synchronous etcd-v3 client over gRPC, used by
// raftkvctl, raftkv-bench and the test harnesses. It talks to raftkv or to
// etcd itself (the wire contract is the same).
//
// Failover follows clientv3's rules (docs: ETCD-COMPAT.md 1.4): the client
// sticks to one endpoint; when a call fails with UNAVAILABLE or the endpoint
// cannot be reached, the call moves to the next endpoint, but only if that is
// safe:
//   - reads (Range, MemberList, Status, ...) are retried on any UNAVAILABLE;
//   - writes (Put, DeleteRange, a Txn with a write, Compact) are retried only
//     when the request never left the client: the connection to the endpoint
//     could not be established before sending. A write that was sent and then
//     failed is returned to the caller, keeping writes at-most-once.
// Retries stop at the call's deadline.
//
// Errors are absl::Status with the gRPC code (the numeric values coincide)
// and the server's message unchanged, e.g. OUT_OF_RANGE "etcdserver: mvcc:
// required revision has been compacted". A deadline that expires on the
// client side is DEADLINE_EXCEEDED "context deadline exceeded", as etcdctl
// prints it.
//
// Thread safety: every method may be called concurrently; the endpoint
// cursor and the per-endpoint channels are guarded by a mutex that is never
// held across an RPC.
#ifndef RAFTKV_RPC_CLIENT_CLIENT_H_
#define RAFTKV_RPC_CLIENT_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "rpc/client/tls.h"
#include "rpc/rpc.grpc.pb.h"

namespace raftkv::client {

struct Options {
  // Connect() waits this long for the first endpoint to accept a connection;
  // zero means "do not wait" (connections are then made on first use).
  absl::Duration dial_timeout = absl::Seconds(5);
  // Default deadline of one call, retries included.
  absl::Duration call_timeout = absl::Seconds(5);
  // Pause between two rounds over all endpoints while retrying.
  absl::Duration retry_backoff = absl::Milliseconds(50);
  // gRPC metadata sent with every call (e.g. {"token", ...} after
  // Authenticate, or {"hasleader", "true"}).
  std::vector<std::pair<std::string, std::string>> metadata;
  // Transport security, per endpoint by its scheme (rpc/client/tls.h).
  ClientTlsOptions tls;
};

// Per-call overrides.
struct CallOptions {
  // Zero means Options::call_timeout.
  absl::Duration timeout = absl::ZeroDuration();
  // Send to this endpoint index only: no failover (like etcdctl's
  // per-endpoint Status). -1 means "the current endpoint, with failover".
  int endpoint = -1;
};

// When Connect fails with DEADLINE_EXCEEDED: why the connection attempts
// failed, as gRPC last saw it (e.g. "failed to connect to all addresses;
// last error: UNKNOWN: ipv4:127.0.0.1:2379: Ssl handshake failed: ...
// certificate verify failed"), carried as a payload so that the message
// stays etcdctl's; empty when unknown or for any other status.
std::string ConnectError(const absl::Status& status);

class Client {
 public:
  // Parses `endpoints` ("127.0.0.1:2379", "http://127.0.0.1:2379" or
  // "https://127.0.0.1:2379") and opens one channel per endpoint, with TLS
  // where Options::tls says so. With a non-zero dial_timeout it waits until
  // one endpoint is connected (for TLS: handshake done), and fails with
  // DEADLINE_EXCEEDED "context deadline exceeded" otherwise;
  // INVALID_ARGUMENT for a malformed endpoint or unusable TLS options (a
  // missing or malformed certificate file, --cert without --key).
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      std::vector<std::string> endpoints, Options options = {});

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // KV. Range and read-only Txns are reads; the rest are writes.
  absl::StatusOr<etcdserverpb::RangeResponse> Range(
      const etcdserverpb::RangeRequest& request, CallOptions call = {});
  absl::StatusOr<etcdserverpb::PutResponse> Put(
      const etcdserverpb::PutRequest& request, CallOptions call = {});
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteRange(
      const etcdserverpb::DeleteRangeRequest& request, CallOptions call = {});
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(
      const etcdserverpb::TxnRequest& request, CallOptions call = {});
  absl::StatusOr<etcdserverpb::CompactionResponse> Compact(
      const etcdserverpb::CompactionRequest& request, CallOptions call = {});

  // Convenience forms of the above.
  absl::StatusOr<etcdserverpb::RangeResponse> Get(std::string key,
                                                  CallOptions call = {});
  absl::StatusOr<etcdserverpb::PutResponse> Put(std::string key,
                                                std::string value,
                                                CallOptions call = {});

  // Cluster and maintenance (reads).
  absl::StatusOr<etcdserverpb::MemberListResponse> MemberList(
      CallOptions call = {});
  absl::StatusOr<etcdserverpb::StatusResponse> Status(CallOptions call = {});

  // The endpoints as given (after parsing to "host:port").
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  // The index of the endpoint new calls go to first.
  int current_endpoint() const;

  // Raw stubs for streaming or less common RPCs. `endpoint` -1 means the
  // current endpoint. The stub stays valid as long as the Client. Calls made
  // through them get no failover and no default deadline or metadata; use
  // PrepareContext() to apply those.
  etcdserverpb::KV::Stub& kv(int endpoint = -1);
  etcdserverpb::Watch::Stub& watch(int endpoint = -1);
  etcdserverpb::Lease::Stub& lease(int endpoint = -1);
  etcdserverpb::Cluster::Stub& cluster(int endpoint = -1);
  etcdserverpb::Maintenance::Stub& maintenance(int endpoint = -1);
  etcdserverpb::Auth::Stub& auth(int endpoint = -1);

  // Sets Options::metadata on `context`, and a deadline `timeout` from now
  // unless `timeout` is infinite.
  void PrepareContext(grpc::ClientContext& context,
                      absl::Duration timeout) const;

  const Options& options() const { return options_; }

 private:
  struct Endpoint;
  enum class Kind { kRead, kWrite };

  Client(std::vector<std::string> endpoints,
         std::vector<std::shared_ptr<grpc::ChannelCredentials>> credentials,
         Options options);

  // Runs `rpc(endpoint, context)` with the failover rules above.
  template <typename Response, typename Rpc>
  absl::StatusOr<Response> Call(Kind kind, const CallOptions& call, Rpc rpc);

  Endpoint& EndpointAt(int index);
  // The first endpoint's reason for failing to connect (see ConnectError).
  std::string LastConnectError();
  void Advance(int from);

  const std::vector<std::string> endpoints_;
  const Options options_;
  // One per endpoint; immutable after construction (each holds its own
  // channel and stubs).
  std::vector<std::unique_ptr<Endpoint>> channels_;

  mutable absl::Mutex mu_;
  // Invariant: 0 <= current_ < endpoints_.size().
  int current_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace raftkv::client

#endif  // RAFTKV_RPC_CLIENT_CLIENT_H_
