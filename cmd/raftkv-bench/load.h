// The load engine of raftkv-bench: --clients concurrent clients, each with at
// most one request in flight, share --conns gRPC connections spread
// round-robin over the endpoints (as etcd's benchmark tool does). Requests
// use gRPC's callback API, so a client costs no thread.
//
// Stopping: after --total requests (over all clients) or after --duration.
// With --rate R the run is open-loop: request i is due at start + i/R and its
// latency is measured from that due time, so a slow server is charged for
// the queueing it causes (no coordinated omission); a client whose next
// request is not yet due waits on the pacer thread.
//
// Progress: once per second a line on stderr with the requests done so far.
#ifndef RAFTKV_CMD_RAFTKV_BENCH_LOAD_H_
#define RAFTKV_CMD_RAFTKV_BENCH_LOAD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cmd/raftkv-bench/stats.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"
#include "rpc/rpc.grpc.pb.h"

namespace raftkv::bench {

// One endpoint to dial: its gRPC target and the credentials for it
// (plaintext or TLS, as rpc/client/tls.h resolves the flags).
struct Target {
  std::string address;  // "host:port"
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

struct LoadOptions {
  std::vector<Target> endpoints;
  int clients = 1;
  int conns = 1;
  int64_t total = 0;  // 0: run for `duration`
  absl::Duration duration = absl::Seconds(10);
  double rate = 0;  // requests per second over all clients; 0: closed loop
  bool progress = true;
};

// One connection per entry, endpoint i % endpoints.size(). Each channel gets
// its own subchannel (no sharing of TCP connections between them).
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::vector<Target>& endpoints, int conns);

// A kind of request a workload sends. Start() issues request number `seq`
// (0-based over the whole run) for client `client` through `kv` and must
// call `done` exactly once, from any thread, with the RPC's status and the
// index of the operation kind (into kinds()) it sent.
//
// Thread safety: Start() is called concurrently for different clients, never
// concurrently for the same client.
class Workload {
 public:
  using Done = std::function<void(const grpc::Status&, int kind)>;
  virtual ~Workload() = default;
  virtual std::vector<std::string> kinds() const = 0;
  virtual void Start(int client, int64_t seq, etcdserverpb::KV::Stub* kv,
                     Done done) = 0;
};

// The completion callback for a heap-allocated `call` (context, request,
// response) of a Workload: frees the call first and then reports, so that
// once the run's last Done returns, nothing of the workload is touched again
// and RunLoad may return and the caller destroy channels and workload.
template <typename Call>
auto Finisher(Call* call, Workload::Done done, int kind) {
  return [call, done = std::move(done), kind](grpc::Status status) {
    delete call;
    done(status, kind);
  };
}

struct LoadResult {
  Summary total;
  std::vector<Summary> by_kind;  // one per Workload::kinds(), in order
  std::string first_error;       // "" when every request succeeded
};

// Runs `workload` to completion under `options`; blocks.
LoadResult RunLoad(const LoadOptions& options, Workload& workload,
                   const std::string& name);

}  // namespace raftkv::bench

#endif  // RAFTKV_CMD_RAFTKV_BENCH_LOAD_H_
