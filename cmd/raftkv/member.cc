#include "cmd/raftkv/member.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "cmd/raftkv/corrupt_check.h"
#include "cmd/raftkv/join.h"
#include "cmd/raftkv/tls_setup.h"
#include "httplib.h"
#include "raft/wal/durable_log.h"
#include "rpc/gateway/gateway.h"

ABSL_FLAG(absl::Duration, experimental_watch_progress_notify_interval,
          absl::Minutes(10),
          "Period of progress notifications for watchers that ask for them "
          "(etcd's flag; at least 100ms)");

namespace raftkv::cmd {
namespace {

constexpr char kRaftkvVersion[] = "0.1.0";

// gRPC reports only "failed to bind"; probe first so the operator learns
// which URL and why.
absl::Status CheckListenable(const std::string& url, const std::string& flag) {
  auto hp = HostPort(url, flag);
  if (!hp.ok()) return hp.status();
  const size_t colon = hp->rfind(':');
  const std::string host = hp->substr(0, colon);
  const int port = std::stoi(hp->substr(colon + 1));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const std::string ip = host == "localhost" ? "127.0.0.1" : host;
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    return absl::OkStatus();  // not IPv4: let gRPC decide
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(fd);
  if (rc != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raftkv: cannot listen on ", flag, " ", url, ": ", strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace

// Counts a received snapshot once its last chunk is durably staged.
class Member::HandlerProxy::CountingSink : public raft::SnapshotSink {
 public:
  CountingSink(std::unique_ptr<raft::SnapshotSink> sink,
               std::atomic<int64_t>* finished)
      : sink_(std::move(sink)), finished_(finished) {}
  absl::Status Write(const std::string& chunk) override {
    return sink_->Write(chunk);
  }
  absl::Status Finish() override {
    absl::Status s = sink_->Finish();
    if (s.ok()) ++*finished_;
    return s;
  }

 private:
  std::unique_ptr<raft::SnapshotSink> sink_;
  std::atomic<int64_t>* finished_;
};

void Member::HandlerProxy::Receive(raftpb::Message m) {
  if (raft::Node* n = node_.load()) n->Receive(std::move(m));
}
void Member::HandlerProxy::ReportUnreachable(uint64_t id) {
  if (raft::Node* n = node_.load()) n->ReportUnreachable(id);
}
void Member::HandlerProxy::ReportSnapshot(uint64_t id, bool ok) {
  if (ok) ++snapshots_sent_;
  if (raft::Node* n = node_.load()) n->ReportSnapshot(id, ok);
}
absl::StatusOr<std::unique_ptr<raft::SnapshotSink>>
Member::HandlerProxy::BeginSnapshot(const raftpb::Message& m) {
  raft::Node* n = node_.load();
  if (n == nullptr) return absl::UnavailableError("raftkv: member starting");
  auto sink = n->BeginSnapshot(m);
  if (!sink.ok()) return sink.status();
  return std::make_unique<CountingSink>(std::move(*sink), &snapshots_received_);
}

Member::Member(const ServerConfig& c) : config_(c) {}

absl::StatusOr<std::unique_ptr<Member>> Member::Start(
    const ServerConfig& c, std::function<void()> on_removed,
    std::function<bool()> stop_requested) {
  ServerConfig resolved = c;
  if (absl::Status s = PrepareTls(&resolved); !s.ok()) return s;
  // As etcd, a member whose data directory already holds a membership
  // restarts from it and ignores --initial-cluster*: after membership
  // changes those flags no longer describe the cluster (nor its ID).
  std::error_code ec;
  const bool restart = std::filesystem::exists(c.data_dir + "/members.pb", ec);
  if (restart || !c.new_cluster) {
    if (absl::Status s = JoinExisting(&resolved, absl::Seconds(30)); !s.ok()) {
      return s;
    }
  }
  std::unique_ptr<Member> m(new Member(resolved));
  m->on_removed_ = std::move(on_removed);
  if (absl::Status s = m->Open(); !s.ok()) return s;
  if (!restart && !c.new_cluster) {
    // A new member's store is empty until it catches up: serializable
    // reads would answer from it (jepsen long10k: bank reads with no
    // accounts right after a join). etcd serves clients after ReadyNotify.
    while (!m->server_->published()) {
      if (stop_requested && stop_requested()) {
        return absl::CancelledError(
            "raftkv: stopped before the member caught up with the cluster");
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  if (absl::Status s = m->StartClientServer(); !s.ok()) return s;
  if (absl::Status s = m->StartHttp(); !s.ok()) return s;
  return m;
}

absl::Status Member::Open() {
  const ServerConfig& c = config_;
  for (const auto& u : c.listen_peer_urls) {
    if (auto s = CheckListenable(u, "--listen-peer-urls"); !s.ok()) return s;
  }
  for (const auto& u : c.listen_client_urls) {
    if (auto s = CheckListenable(u, "--listen-client-urls"); !s.ok()) return s;
  }
  std::error_code ec;
  std::filesystem::create_directories(c.data_dir + "/wal", ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raftkv: cannot use --data-dir ", c.data_dir, ": ", ec.message()));
  }
  auto log = raft::wal::DurableLog::Open(raft::wal::Env::Posix(),
                                         c.data_dir + "/wal", {});
  if (!log.ok()) return log.status();
  auto sm =
      kv::StateMachine::Open(c.data_dir, kv::MvccOptions(), c.initial_members);
  if (!sm.ok()) return sm.status();
  sm_ = std::move(*sm);
  sm_->SetQuota(c.quota_backend_bytes);
  if (c.new_cluster && sm_->members().cluster_id() != c.cluster_id) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "raftkv: --data-dir %s belongs to cluster %x, but --initial-cluster "
        "and --initial-cluster-token describe cluster %x",
        c.data_dir, sm_->members().cluster_id(), c.cluster_id));
  }
  // A crash while installing a leader's snapshot leaves the WAL ahead of the
  // store; finish the install from the staged copy.
  const uint64_t log_snapshot = (*log)->FirstIndex() - 1;
  if (sm_->applied_index() < log_snapshot) {
    raftpb::SnapshotMetadata meta;
    meta.set_index(log_snapshot);
    if (absl::Status s = sm_->InstallSnapshot(meta); !s.ok()) return s;
  }

  // The watch hub must hear of every batch the node applies.
  kv::watch::HubOptions hub_options;
  hub_options.progress_interval = std::max(
      absl::Milliseconds(100),
      absl::GetFlag(FLAGS_experimental_watch_progress_notify_interval));
  kv::StateMachine* sm_ptr = sm_.get();
  watch_hub_ = std::make_unique<kv::watch::WatchHub>(
      [sm_ptr] { return sm_ptr->store(); }, hub_options);
  sm_->SetRevisionObserver(
      [hub = watch_hub_.get()](int64_t revision) { hub->Notify(revision); });

  rpc::PeerTransportOptions transport_options;
  transport_options.sender.on_removed = [this] { Removed(); };
  auto peer_dial = PeerDialCredentials(c);
  if (!peer_dial.ok()) return peer_dial.status();
  transport_options.sender.channel.credentials = *peer_dial;
  transport_ = std::make_unique<rpc::PeerTransport>(c.member_id, c.cluster_id,
                                                    &proxy_, transport_options);
  peer_service_ =
      std::make_unique<rpc::PeerService>(c.member_id, c.cluster_id, &proxy_);
  peer_service_->SetMembership(
      [sm_ptr] { return sm_ptr->members().List().SerializeAsString(); },
      [this](uint64_t id) {
        absl::MutexLock l(&peers_mu_);
        return removed_peers_.count(id) > 0;
      });
  peer_service_->SetHashSource(
      [sm_ptr](int64_t rev) -> absl::StatusOr<peerpb::HashKVResponse> {
        auto hash = sm_ptr->store()->HashKV(rev);
        if (!hash.ok()) return hash.status();
        peerpb::HashKVResponse resp;
        resp.set_hash(hash->hash);
        resp.set_revision(hash->revision);
        resp.set_compact_revision(hash->compact_revision);
        return resp;
      });
  sm_->SetMembershipObserver(
      [this](const kvpb::MemberList& list) { OnMembership(list); });
  std::shared_ptr<grpc::ServerCredentials> peer_tls;
  if (c.peer_tls.enabled()) {
    auto creds = rpc::tls::ServerCredentials(c.peer_tls);
    if (!creds.ok()) return creds.status();
    peer_tls = *creds;
  }
  auto peer_server =
      rpc::StartPeerServer(c.listen_peer_urls, peer_service_.get(), peer_tls);
  if (!peer_server.ok()) return peer_server.status();
  peer_server_ = std::move(*peer_server);
  // As etcd: peers can already ask for this member's hash, but Raft does
  // not start (no vote, no campaign) until the store has been checked.
  if (c.initial_corrupt_check) {
    if (absl::Status s = InitialCorruptCheck(c, *sm_, absl::Seconds(5));
        !s.ok()) {
      return s;
    }
  }

  raft::NodeOptions options;
  options.id = c.member_id;
  const bool fresh =
      (*log)->LastIndex() == 0 && (*log)->hard_state().current_term() == 0;
  if (c.new_cluster && fresh) {
    for (const auto& member : c.initial_members.members()) {
      options.initial_voters.push_back(member.id());
    }
  }
  options.tick_interval = absl::Milliseconds(c.heartbeat_ms);
  options.heartbeat_tick = 1;
  options.election_tick = std::max(2, c.election_ms / c.heartbeat_ms);
  options.snapshot_count = c.snapshot_count;
  options.catchup_entries = std::min<uint64_t>(5000, c.snapshot_count / 2);
  options.applied_index = sm_->applied_index();
  options.seed = c.member_id;
  options.unsafe_no_fsync = c.unsafe_no_fsync;
  options.unsafe_ack_before_commit = c.unsafe_ack_before_commit;
  auto node =
      raft::Node::Start(options, std::move(*log), transport_.get(), sm_.get());
  if (!node.ok()) return node.status();
  node_ = std::move(*node);
  proxy_.Set(node_.get());
  OnMembership(sm_->members().List());
  rpc::ServerOptions so;
  so.member_id = c.member_id;
  so.cluster_id = c.cluster_id;
  so.name = c.name;
  so.client_urls = c.advertise_client_urls;
  so.request_timeout = absl::Seconds(5) + 2 * absl::Milliseconds(c.election_ms);
  so.max_request_bytes = c.max_request_bytes;
  so.max_txn_ops = c.max_txn_ops;
  so.unsafe_no_read_index = c.unsafe_no_read_index;
  so.strict_reconfig_check = c.strict_reconfig_check;
  so.peer_connected = [t = transport_.get()](uint64_t id) {
    return t->Connected(id);
  };
  so.election_timeout = absl::Milliseconds(c.election_ms);
  auto client_dial = ClientDialCredentials(c);
  if (!client_dial.ok()) return client_dial.status();
  so.client_dial_credentials = *client_dial;
  // etcd: the minimum TTL is ceil(1.5 x election timeout), in seconds.
  so.min_lease_ttl = (3 * c.election_ms + 1999) / 2000;
  so.lease_checkpoint_interval = c.lease_checkpoint_interval;
  server_ = std::make_unique<rpc::EtcdServer>(so, node_.get(), sm_.get());
  if (c.corrupt_check_time > absl::ZeroDuration()) {
    auto monitor =
        CorruptionMonitor::Start(c, sm_.get(), node_.get(), server_.get());
    if (!monitor.ok()) return monitor.status();
    corruption_monitor_ = std::move(*monitor);
  }
  return absl::OkStatus();
}

absl::Status Member::StartClientServer() {
  kv_service_ = std::make_unique<rpc::KvService>(server_.get());
  maintenance_service_ = std::make_unique<rpc::MaintenanceService>(
      server_.get(), config_.data_dir);
  cluster_service_ = std::make_unique<rpc::ClusterService>(server_.get());
  lease_service_ = std::make_unique<rpc::LeaseService>(server_.get());
  watch_service_ =
      std::make_unique<rpc::WatchService>(server_.get(), watch_hub_.get());
  lock_service_ = std::make_unique<rpc::LockService>();
  election_service_ = std::make_unique<rpc::ElectionService>();
  grpc::ServerBuilder builder;
  // Every client URL is a mux (rpc/http/client_mux.h): on http:// it hands
  // gRPC's connections to client_server_; on https:// it forwards them to
  // client_server_'s own TLS listener on 127.0.0.1 and terminates TLS
  // itself for HTTP/1.1 clients.
  std::vector<std::string> mux_urls;
  int grpc_tls_port = 0;
  for (const auto& url : config_.listen_client_urls) {
    auto hp = HostPort(url, "--listen-client-urls");
    if (!hp.ok()) return hp.status();
    const bool https =
        absl::StartsWith(url, "https://") || absl::StartsWith(url, "unixs://");
    if (https && client_tls_ == nullptr) {
      auto credentials = ListenerCredentials(config_, "client", url);
      if (!credentials.ok()) return credentials.status();
      builder.AddListeningPort("127.0.0.1:0", *credentials, &grpc_tls_port);
      auto terminator = rpc::tls::Terminator::Create(config_.client_tls);
      if (!terminator.ok()) return terminator.status();
      client_tls_ = std::move(*terminator);
    }
    const size_t colon = hp->rfind(':');
    // etcd serves any number of HTTP/1.1 clients (the JSON gateway's
    // streams each hold a connection); the cap only bounds a flood.
    rpc::http::ClientMuxOptions mux_options;
    mux_options.max_http_connections = 4096;
    if (https) mux_options.tls = client_tls_.get();
    // unix://PATH and unixs://PATH: a socket file named as etcd names it.
    auto mux = absl::StartsWith(url, "unix")
                   ? rpc::http::ClientMux::ListenUnix(*hp, mux_options)
                   : rpc::http::ClientMux::Listen(
                         hp->substr(0, colon), std::stoi(hp->substr(colon + 1)),
                         mux_options);
    if (!mux.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "raftkv: --listen-client-urls ", url, ": ", mux.status().message()));
    }
    client_muxes_.push_back(std::move(*mux));
    mux_urls.push_back(url);
  }
  if (config_.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                               static_cast<int>(std::min<uint32_t>(
                                   config_.max_concurrent_streams, INT32_MAX)));
  }
  // A connection that does not finish its TLS handshake within 5 s (a
  // client that connects and sends nothing) is closed, so idle sockets
  // cannot pile up (gRPC's default waits 120 s).
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 5000);
  // etcd: the request limit plus gRPC overhead; responses are unbounded.
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(config_.max_request_bytes + 512 * 1024));
  builder.SetMaxSendMessageSize(INT32_MAX);
  builder.RegisterService(kv_service_.get());
  builder.RegisterService(maintenance_service_.get());
  builder.RegisterService(cluster_service_.get());
  builder.RegisterService(lease_service_.get());
  builder.RegisterService(watch_service_.get());
  builder.RegisterService(lock_service_.get());
  builder.RegisterService(election_service_.get());
  client_server_ = builder.BuildAndStart();
  if (!client_server_) {
    return absl::FailedPreconditionError(
        absl::StrCat("raftkv: cannot listen on --listen-client-urls ",
                     config_.listen_client_urls[0]));
  }
  // Lock and Election call the KV, Watch and Lease services above, as
  // etcd's v3lock and v3election call etcd's own client.
  lock_service_->SetChannel(
      client_server_->InProcessChannel(grpc::ChannelArguments()));
  election_service_->SetChannel(
      client_server_->InProcessChannel(grpc::ChannelArguments()));
  client_http_ = std::make_unique<rpc::http::HttpServer>();
  if (absl::Status routes = RegisterClientHttpRoutes(client_http_.get());
      !routes.ok()) {
    return routes;
  }
  for (size_t i = 0; i < client_muxes_.size(); ++i) {
    client_muxes_[i]->Start(client_server_.get(), client_http_.get(),
                            grpc_tls_port);
    std::fprintf(stderr,
                 "raftkv: serving gRPC and HTTP on client URL %s at port %d\n",
                 mux_urls[i].c_str(), client_muxes_[i]->port());
  }
  return absl::OkStatus();
}

absl::Status Member::RegisterClientHttpRoutes(httplib::Server* http) {
  AddHttpRoutes(http);
  // etcd's JSON gateway (/v3/...) on this member's own services over a real
  // HTTP/2 connection, so --max-concurrent-streams binds the gateway's
  // streams as it binds etcd's (whose gateway dials its own client URL);
  // responses unbounded, as etcd's gateway client.
  if (config_.enable_grpc_gateway) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(INT32_MAX);
    auto channel = rpc::http::LoopbackChannel(client_server_.get(), args);
    if (!channel.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "raftkv: --enable-grpc-gateway: cannot connect the gateway to the "
          "client server: ",
          channel.status().message()));
    }
    rpc::gateway::RegisterRoutes(http, *channel, {config_.max_request_bytes});
  }
  return absl::OkStatus();
}

void Member::OnMembership(const kvpb::MemberList& list) {
  bool self = false;
  std::map<uint64_t, std::string> want;
  for (const auto& m : list.members()) {
    if (m.id() == config_.member_id) {
      self = true;
    } else if (!m.peer_urls().empty()) {
      want[m.id()] = m.peer_urls(0);
    }
  }
  {
    absl::MutexLock l(&peers_mu_);
    for (const auto& [id, url] : peers_) {
      if (want.count(id)) continue;
      transport_->RemovePeer(id);
      removed_peers_.insert(id);
    }
    for (const auto& [id, url] : want) {
      auto it = peers_.find(id);
      if (it != peers_.end() && it->second == url) continue;
      transport_->AddPeer(id, url);  // new, or its URL changed
      removed_peers_.erase(id);
    }
    peers_ = std::move(want);
  }
  if (!self) Removed();
}

void Member::Removed() {
  if (removed_.exchange(true)) return;
  std::fprintf(stderr,
               "raftkv: member %llx: the member has been permanently removed "
               "from the cluster\n",
               static_cast<unsigned long long>(config_.member_id));
  if (on_removed_) on_removed_();
}

Member::~Member() {
  // Before anything their HTTP handlers use; destroyed after the metrics
  // servers, whose /metrics reads their counts.
  for (auto& mux : client_muxes_) mux->Stop();
  for (auto& h : http_) h->stop();
  for (auto& t : http_threads_) t.join();
  if (client_server_)
    client_server_->Shutdown(
        absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  corruption_monitor_.reset();  // it proposes through server_
  server_.reset();
  if (peer_server_.server)
    peer_server_.server->Shutdown(
        absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  if (transport_) transport_->Stop();
  if (node_) node_->Stop();
  proxy_.Set(nullptr);
}

}  // namespace raftkv::cmd
