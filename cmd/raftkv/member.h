// Member: one running raftkv member — WAL, state machine, Raft node, peer
// transport, gRPC servers and HTTP endpoints — wired from a ServerConfig.
#ifndef RAFTKV_CMD_RAFTKV_MEMBER_H_
#define RAFTKV_CMD_RAFTKV_MEMBER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "cmd/raftkv/config.h"
#include "cmd/raftkv/corrupt_check.h"
#include "kv/state_machine.h"
#include "kv/watch/watch_hub.h"
#include "raft/node/node.h"
#include "rpc/http/client_mux.h"
#include "rpc/peer/peer_server.h"
#include "rpc/peer/peer_service.h"
#include "rpc/peer/peer_transport.h"
#include "rpc/server/election_service.h"
#include "rpc/server/etcd_server.h"
#include "rpc/server/lease_service.h"
#include "rpc/server/lock_service.h"
#include "rpc/server/services.h"
#include "rpc/server/watch_service.h"

namespace httplib {
class Server;
}

namespace raftkv::cmd {

// Thread safety: Start and the destructor run on one thread; the
// membership callbacks run on the apply thread and the peer senders'
// threads, and touch only peers_mu_'s state and removed_.
class Member {
 public:
  // With --initial-cluster-state=existing, first learns this member's ID and
  // the cluster's from the peers (join.h). `on_removed` runs (once, on any
  // thread) when this member learns it was removed from the cluster; it
  // should stop the member soon, from another thread.
  // A member that joins with an empty data directory serves clients only
  // once it has caught up with the cluster (its own publish is applied),
  // as etcd; until then Start polls `stop_requested` and returns Cancelled
  // if it says so.
  static absl::StatusOr<std::unique_ptr<Member>> Start(
      const ServerConfig& c, std::function<void()> on_removed = {},
      std::function<bool()> stop_requested = {});
  ~Member();  // stops everything, in reverse order of start

  uint64_t member_id() const { return config_.member_id; }
  uint64_t cluster_id() const { return config_.cluster_id; }
  // Whether this member's name and client URLs (its publish request) have
  // been applied: from then on it is part of the cluster clients see.
  bool published() const { return server_->published(); }

 private:
  // Forwards the transport's callbacks to the Node once it exists (the
  // transport must exist before the Node, which sends through it).
  class HandlerProxy : public raft::MessageHandler {
   public:
    void Set(raft::Node* node) { node_ = node; }
    void Receive(raftpb::Message m) override;
    void ReportUnreachable(uint64_t id) override;
    void ReportSnapshot(uint64_t id, bool ok) override;
    absl::StatusOr<std::unique_ptr<raft::SnapshotSink>> BeginSnapshot(
        const raftpb::Message& m) override;

    // For /metrics: snapshots this member streamed to a follower that
    // acknowledged them, and complete snapshots it received from a leader.
    int64_t snapshots_sent() const { return snapshots_sent_; }
    int64_t snapshots_received() const { return snapshots_received_; }

   private:
    class CountingSink;

    std::atomic<raft::Node*> node_{nullptr};
    std::atomic<int64_t> snapshots_sent_{0};
    std::atomic<int64_t> snapshots_received_{0};
  };

  explicit Member(const ServerConfig& c);
  absl::Status Open();
  absl::Status StartClientServer();
  // Everything the client URLs serve over HTTP/1.1, on `http`: the probes
  // and /metrics of AddHttpRoutes, and the JSON gateway (/v3/...).
  // REQUIRES: client_server_ is started.
  absl::Status RegisterClientHttpRoutes(httplib::Server* http);
  // /health, /readyz, /livez, /version and /metrics (http.cc): served on the
  // metrics URLs and the http:// client URLs alike.
  void AddHttpRoutes(httplib::Server* http);
  absl::Status StartHttp();
  // Keeps the transport's peers in step with the member list (apply
  // thread); notices this member's own removal.
  void OnMembership(const kvpb::MemberList& list);
  void Removed();

  const ServerConfig config_;
  std::function<void()> on_removed_;
  std::atomic<bool> removed_{false};
  absl::Mutex peers_mu_;
  // The transport's peers: ID -> peer URL.
  std::map<uint64_t, std::string> peers_ ABSL_GUARDED_BY(peers_mu_);
  // Peers removed from the cluster while this member ran; their streams are
  // refused with rpc::kRemovedMessage.
  std::set<uint64_t> removed_peers_ ABSL_GUARDED_BY(peers_mu_);
  std::unique_ptr<kv::StateMachine> sm_;
  // Fed by sm_'s revision observer; outlives the client server's calls.
  std::unique_ptr<kv::watch::WatchHub> watch_hub_;
  HandlerProxy proxy_;
  std::unique_ptr<rpc::PeerTransport> transport_;
  std::unique_ptr<rpc::PeerService> peer_service_;
  rpc::PeerServer peer_server_;
  std::unique_ptr<raft::Node> node_;
  std::unique_ptr<rpc::EtcdServer> server_;
  // --experimental-corrupt-check-time (corrupt_check.h); null when 0.
  std::unique_ptr<CorruptionMonitor> corruption_monitor_;
  std::unique_ptr<rpc::KvService> kv_service_;
  std::unique_ptr<rpc::MaintenanceService> maintenance_service_;
  std::unique_ptr<rpc::ClusterService> cluster_service_;
  std::unique_ptr<rpc::LeaseService> lease_service_;
  std::unique_ptr<rpc::WatchService> watch_service_;
  // etcd's v3lock service, on top of the services above through
  // client_server_'s in-process channel; destroyed after client_server_.
  std::unique_ptr<rpc::LockService> lock_service_;
  // etcd's v3election service, likewise.
  std::unique_ptr<rpc::ElectionService> election_service_;
  std::unique_ptr<grpc::Server> client_server_;
  // HTTP/1.1 on the client URLs, shared by their muxes; declared
  // before them, so destroyed after them.
  std::unique_ptr<rpc::http::HttpServer> client_http_;
  // TLS terminated by the https:// client URLs' muxes for HTTP/1.1
  // clients (null without one); destroyed after them.
  std::unique_ptr<rpc::tls::Terminator> client_tls_;
  // One per client URL: gRPC and HTTP/1.1 on one port. Stopped before
  // client_server_ and server_, which their connections use.
  std::vector<std::unique_ptr<rpc::http::ClientMux>> client_muxes_;
  std::vector<std::unique_ptr<httplib::Server>> http_;
  std::vector<std::thread> http_threads_;
};

}  // namespace raftkv::cmd

#endif  // RAFTKV_CMD_RAFTKV_MEMBER_H_
