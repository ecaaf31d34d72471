// EtcdServer: what the gRPC services call. It turns client requests into
// Raft proposals (answered when their entry is applied) and linearizable
// reads (ReadIndex, then wait until applied), with etcd's errors and
// timeouts. It owns no I/O of its own: the Node, the StateMachine and the
// transport are wired by cmd/raftkv.
//
// Thread safety: thread-safe. Every method returns at once and finishes
// through its callback, which may run on the Raft, apply, timer or executor
// thread: callbacks must be quick (finishing a gRPC reactor is).
#ifndef RAFTKV_RPC_SERVER_ETCD_SERVER_H_
#define RAFTKV_RPC_SERVER_ETCD_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "kv/kvpb.pb.h"
#include "kv/state_machine.h"
#include "raft/node/node.h"
#include "rpc/server/timer_queue.h"

namespace raftkv::rpc {

struct ServerOptions {
  uint64_t member_id = 0;
  uint64_t cluster_id = 0;
  std::string name;
  std::vector<std::string> client_urls;  // advertised
  // etcd: 5 s plus two election timeouts.
  absl::Duration request_timeout = absl::Seconds(7);
  int64_t max_request_bytes = 1536 * 1024;
  int64_t max_txn_ops = 128;
  int read_threads = 2;
  // Leases: the minimum TTL (etcd: ceil(1.5 x election timeout) seconds),
  // the leader's election extension on promotion, and how often the leader
  // checkpoints remaining TTLs through Raft.
  int64_t min_lease_ttl = 2;
  absl::Duration election_timeout = absl::Seconds(1);
  absl::Duration lease_checkpoint_interval = absl::Minutes(5);
  // Membership changes: etcd's --strict-reconfig-check (refuse changes
  // that would leave the cluster without a working quorum), and whether this
  // member has a live stream to a peer (empty: assume it has).
  bool strict_reconfig_check = true;
  std::function<bool(uint64_t)> peer_connected;
  // For dialing another member's https client URL (lease keep-alives
  // forwarded to the leader); null: https client URLs are not dialed with
  // TLS.
  std::shared_ptr<grpc::ChannelCredentials> client_dial_credentials;
  // Test-only (jepsen's test of the tests): serve linearizable reads from
  // local state without ReadIndex.
  bool unsafe_no_read_index = false;
};

class EtcdServer {
 public:
  using WriteCallback = std::function<void(const kv::ApplyResult&)>;
  using DoneCallback = std::function<void(absl::Status)>;

  EtcdServer(const ServerOptions& options, raft::Node* node,
             kv::StateMachine* sm);
  ~EtcdServer();

  // Proposes a write; done gets the applied result, or etcd's timeout /
  // no-leader / too-large error. A write that does not fit in the backend
  // quota (kv/quota.h) is not proposed: done gets etcd's "database space
  // exceeded" and this member raises NOSPACE, as etcd's gRPC layer does.
  void Write(kvpb::InternalRequest request, WriteCallback done);

  // Proposes "NOSPACE raised by this member" unless it is raised already
  // or such a proposal is in flight.
  void RaiseNoSpace();

  // Runs `read` (on an executor thread) once local state reflects every
  // write acknowledged before this call: ReadIndex, then wait for apply.
  // On failure `read` is not run and `failed` gets etcd's error.
  void LinearizableRead(std::function<void()> read, DoneCallback failed);

  // Proposes a membership change; done when applied.
  void ChangeMembership(raftpb::ConfChange cc, kvpb::Member member,
                        DoneCallback done);

  // A fresh positive lease ID (for grants that ask the server to choose).
  int64_t NewLeaseId();
  // Replicates "lease `id` has its full TTL again" (see Lessor::Renew).
  void ResetLeaseCheckpoint(int64_t id);
  // Runs fn on the worker pool (for work that may block, e.g. forwarding to
  // the leader).
  void RunBlocking(std::function<void()> fn) { blocking_.Run(std::move(fn)); }

  // done(OK) once `leader` leads, or a timeout error.
  void AwaitLeader(uint64_t leader, DoneCallback done);

  // Header for responses of this member.
  void FillHeader(etcdserverpb::ResponseHeader* header) const;

  raft::Node& node() { return *node_; }
  kv::StateMachine& state_machine() { return *sm_; }
  const ServerOptions& options() const { return options_; }
  // This member's attributes (name, client URLs) were committed and applied
  // here: it has caught up at least to that entry (etcd's ReadyNotify).
  bool published() const { return *published_; }

 private:
  uint64_t NextRequestId();
  void ArmTimeout(uint64_t id);
  void PollLeader(uint64_t leader, absl::Time deadline, DoneCallback done);
  void PublishLoop();
  // The leader's lease duties (thread "lessor"): promote/demote the Lessor
  // on leadership changes, revoke expired leases (at most
  // kLeaseRevokesPerSecond), checkpoint remaining TTLs.
  void LessorLoop();

  const ServerOptions options_;
  raft::Node* const node_;
  kv::StateMachine* const sm_;
  std::atomic<uint64_t> next_id_;
  TimerQueue timers_;
  Executor readers_;
  // Work that may wait on another member (lease forwarding).
  Executor blocking_;
  // Announces this member's name and client URLs once (thread "publish").
  std::atomic<bool> stopping_{false};
  // Shared with the publish write's callback, which may outlive a stop.
  std::shared_ptr<std::atomic<bool>> published_ =
      std::make_shared<std::atomic<bool>>(false);
  std::thread publisher_;
  std::thread lessor_thread_;
  // A NOSPACE proposal of this member's is in flight (shared with its
  // callback, which may outlive a stop).
  std::shared_ptr<std::atomic<bool>> raising_nospace_ =
      std::make_shared<std::atomic<bool>>(false);
  // What the state machine's quota observer calls through: this server
  // until the destructor clears it (the apply thread may call it while the
  // server stops).
  struct QuotaHook {
    absl::Mutex mu;
    EtcdServer* server ABSL_GUARDED_BY(mu) = nullptr;
  };
  std::shared_ptr<QuotaHook> quota_hook_ = std::make_shared<QuotaHook>();
};

// etcd's error for a request that did not finish in time.
absl::Status RequestTimeoutError();
absl::Status RequestTooLargeError();

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_SERVER_ETCD_SERVER_H_
