// HTTP endpoints on --listen-metrics-urls and on the http:// client URLs
// (next to gRPC, through rpc/http/client_mux.h), as etcd serves them:
//   GET /health, /readyz  200 {"health":"true"} when no alarm is raised
//                         (?exclude=NOSPACE ignores one), a leader exists
//                         and a linearizable read completes within 1 s,
//                         else 503 {"health":"false"}
//   GET /livez            200 while the member runs (no Raft round trip)
//   GET /version          etcd's API level and raftkv's own version
//   GET /metrics          Prometheus text: leader, sizes, memory, snapshots
//                         sent to followers / received from a leader
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "cmd/raftkv/member.h"
#include "httplib.h"
#include "kv/alarms.h"
#include "raft/message_check.h"
#include "rpc/server/api_level.h"

namespace raftkv::cmd {
namespace {

// Resident set size in bytes, from /proc/self/statm.
int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * sysconf(_SC_PAGESIZE);
}

}  // namespace

void Member::AddHttpRoutes(httplib::Server* http) {
  rpc::EtcdServer* server = server_.get();
  auto health = [server](const httplib::Request& req, httplib::Response& res) {
    std::string reason;
    // etcd 3.4: a raised alarm makes the member unhealthy unless the alarm
    // is named by ?exclude= (e.g. ?exclude=NOSPACE).
    for (const kvpb::AlarmMember& m :
         server->state_machine().alarms().Get().List()) {
      const std::string name = kv::AlarmTypeName(m.alarm());
      bool excluded = false;
      for (size_t i = 0; i < req.get_param_value_count("exclude"); ++i) {
        excluded |= req.get_param_value("exclude", i) == name;
      }
      if (!excluded && reason.empty()) reason = "ALARM " + name;
    }
    if (!reason.empty()) {
      // Reported as etcd 3.4 does, without a reason (see below).
    } else if (server->node().status().leader == 0) {
      reason = "RAFT NO LEADER";
    } else {
      auto done = std::make_shared<absl::Notification>();
      auto error = std::make_shared<absl::Status>();
      server->LinearizableRead([done] { done->Notify(); },
                               [done, error](absl::Status s) {
                                 *error = s;
                                 done->Notify();
                               });
      if (!done->WaitForNotificationWithTimeout(absl::Seconds(1))) {
        reason = "QUORUM READ TIMEOUT";
      } else if (!error->ok()) {
        reason = std::string(error->message());
      }
    }
    // etcd 3.4's body exactly ({"health":"true"} or {"health":"false"}:
    // scripts and etcd's own tests match it whole); the reason, which 3.5
    // adds to the body, goes in a header.
    res.status = reason.empty() ? 200 : 503;
    if (!reason.empty()) res.set_header("X-Raftkv-Health-Reason", reason);
    res.set_content(absl::StrCat(R"({"health":")",
                                 reason.empty() ? "true" : "false", R"("})"),
                    "application/json");
  };
  http->Get("/health", health);
  http->Get("/readyz", health);
  http->Get("/livez",
            [server](const httplib::Request&, httplib::Response& res) {
              const bool ok = server->node().health().ok();
              res.status = ok ? 200 : 503;
              res.set_content(ok ? "ok\n" : "failed\n", "text/plain");
            });
  http->Get("/version", [](const httplib::Request&, httplib::Response& res) {
    // etcd's /version, with raftkv's own version beside
    // (rpc/server/api_level.h).
    res.set_content(
        absl::StrCat(R"({"etcdserver":")", rpc::kEtcdServerVersion,
                     R"(","etcdcluster":")", rpc::kEtcdClusterVersion,
                     R"(","raftkv":")", rpc::kRaftkvVersion, R"("})"),
        "application/json");
  });
  const HandlerProxy* proxy = &proxy_;
  const auto* muxes = &client_muxes_;
  http->Get("/metrics", [server, proxy, muxes](const httplib::Request&,
                                               httplib::Response& res) {
    const raft::NodeStatus st = server->node().status();
    std::string out;
    absl::StrAppend(&out, "etcd_server_version{server_version=\"",
                    rpc::kEtcdServerVersion, "\"} 1\n");
    absl::StrAppend(&out, "etcd_server_has_leader ", st.leader != 0 ? 1 : 0,
                    "\n");
    absl::StrAppend(&out, "etcd_server_is_leader ", st.leader == st.id ? 1 : 0,
                    "\n");
    absl::StrAppend(&out, "etcd_mvcc_db_total_size_in_bytes ",
                    server->state_machine().store()->ApproximateSize(), "\n");
    absl::StrAppend(&out, "etcd_server_proposals_committed_total ", st.commit,
                    "\n");
    absl::StrAppend(&out, "etcd_server_proposals_applied_total ", st.applied,
                    "\n");
    absl::StrAppend(&out, "process_resident_memory_bytes ", ResidentBytes(),
                    "\n");
    absl::StrAppend(&out, "raftkv_snapshots_sent_total ",
                    proxy->snapshots_sent(), "\n");
    absl::StrAppend(&out, "raftkv_snapshots_received_total ",
                    proxy->snapshots_received(), "\n");
    // Peer messages the Raft core refused, by kind (raft/message_check.h).
    for (int k = 1; k < raft::kNumRefusalKinds; ++k) {
      const char* kind = raft::RefusalName(static_cast<raft::Refusal>(k));
      auto it = st.refused.find(kind);
      absl::StrAppend(&out, "raftkv_peer_messages_refused_total{kind=\"", kind,
                      "\"} ", it == st.refused.end() ? 0 : it->second, "\n");
    }
    // Client-port connections by how the mux (rpc/http/client_mux.h)
    // dealt with them.
    rpc::http::ClientMux::Stats mux;
    for (const auto& m : *muxes) {
      const rpc::http::ClientMux::Stats s = m->stats();
      mux.grpc += s.grpc;
      mux.http += s.http;
      mux.silent += s.silent;
      mux.closed += s.closed;
      mux.refused += s.refused;
      mux.malformed += s.malformed;
      mux.tls_failed += s.tls_failed;
    }
    for (const auto& [kind, n] :
         {std::pair<const char*, int64_t>{"grpc", mux.grpc},
          {"http", mux.http},
          {"silent", mux.silent},
          {"closed", mux.closed},
          {"refused", mux.refused},
          {"malformed", mux.malformed},
          {"tls_failed", mux.tls_failed}}) {
      absl::StrAppend(&out, "raftkv_client_connections_total{kind=\"", kind,
                      "\"} ", n, "\n");
    }
    res.set_content(out, "text/plain; version=0.0.4");
  });
  // Other methods on these paths: 405, as etcd answers.
  for (const char* path : {"/health", "/readyz", "/livez", "/version"}) {
    auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
      res.status = 405;
    };
    http->Post(path, not_allowed);
    http->Put(path, not_allowed);
    http->Delete(path, not_allowed);
  }
}

absl::Status Member::StartHttp() {
  for (const auto& url : config_.listen_metrics_urls) {
    auto hp = HostPort(url, "--listen-metrics-urls");
    if (!hp.ok()) return hp.status();
    const size_t colon = hp->rfind(':');
    auto http = std::make_unique<httplib::Server>();
    AddHttpRoutes(http.get());
    const std::string host = hp->substr(0, colon);
    const int port = std::stoi(hp->substr(colon + 1));
    if (!http->bind_to_port(host, port)) {
      return absl::FailedPreconditionError(
          absl::StrCat("raftkv: cannot listen on --listen-metrics-urls ", url));
    }
    httplib::Server* raw = http.get();
    http_threads_.emplace_back([raw] { raw->listen_after_bind(); });
    http_.push_back(std::move(http));
  }
  return absl::OkStatus();
}

}  // namespace raftkv::cmd
