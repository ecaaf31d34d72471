#include "cmd/raftkv/config.h"

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kv/members.h"

ABSL_FLAG(std::string, name, "default", "Human-readable name for this member.");
ABSL_FLAG(std::string, data_dir, "",
          "Path to the data directory (default: ${name}.raftkv).");
ABSL_FLAG(std::string, listen_client_urls, "http://127.0.0.1:2379",
          "URLs to listen on for client traffic (comma-separated).");
ABSL_FLAG(std::string, advertise_client_urls, "",
          "Client URLs advertised to the cluster (default: the listen URLs).");
ABSL_FLAG(std::string, listen_peer_urls, "http://127.0.0.1:2380",
          "URLs to listen on for peer traffic.");
ABSL_FLAG(std::string, initial_advertise_peer_urls, "",
          "This member's peer URLs (default: the listen peer URLs).");
ABSL_FLAG(std::string, listen_metrics_urls, "",
          "URLs for /health, /livez, /readyz, /version and /metrics.");
ABSL_FLAG(std::string, initial_cluster, "",
          "Initial cluster, e.g. n1=http://127.0.0.1:2380,n2=... "
          "(default: ${name}=${initial-advertise-peer-urls}).");
ABSL_FLAG(std::string, initial_cluster_state, "new",
          "\"new\" to bootstrap a cluster, \"existing\" to join one.");
ABSL_FLAG(std::string, initial_cluster_token, "etcd-cluster",
          "Distinguishes clusters started from the same configuration.");
ABSL_FLAG(uint64_t, snapshot_count, 10000,
          "Applied entries between two log compactions.");
ABSL_FLAG(int, heartbeat_interval, 100, "Heartbeat interval in ms.");
ABSL_FLAG(int, election_timeout, 1000, "Election timeout in ms.");
ABSL_FLAG(int64_t, quota_backend_bytes, 2LL << 30,
          "Backend size quota in bytes.");
ABSL_FLAG(int64_t, max_request_bytes, 1536 * 1024,
          "Maximum client request size in bytes.");
ABSL_FLAG(int64_t, max_txn_ops, 128, "Maximum operations per transaction.");
ABSL_FLAG(absl::Duration, lease_checkpoint_interval, absl::Minutes(5),
          "How often the leader replicates leases' remaining TTLs, so that a "
          "new leader does not restart long leases from their full TTL.");
ABSL_FLAG(bool, experimental_initial_corrupt_check, false,
          "Before serving, compare this member's HashKV with its peers' and "
          "refuse to start on a mismatch.");
ABSL_FLAG(bool, strict_reconfig_check, true,
          "Reject reconfiguration requests that would cause quorum loss.");
// Transport security, with etcd's names and meanings (rpc/tls).
ABSL_FLAG(std::string, cert_file, "",
          "Path to the client server TLS cert file.");
ABSL_FLAG(std::string, key_file, "", "Path to the client server TLS key file.");
ABSL_FLAG(std::string, trusted_ca_file, "",
          "Path to the client server TLS trusted CA file; clients must then "
          "present a certificate it signed.");
ABSL_FLAG(bool, client_cert_auth, false,
          "Require client certificates signed by --trusted-ca-file.");
ABSL_FLAG(std::string, client_crl_file, "",
          "Path to the client certificate revocation list file.");
ABSL_FLAG(bool, auto_tls, false,
          "Client TLS using a generated (self-signed) certificate.");
ABSL_FLAG(std::string, peer_cert_file, "",
          "Path to the peer server TLS cert file.");
ABSL_FLAG(std::string, peer_key_file, "",
          "Path to the peer server TLS key file.");
ABSL_FLAG(std::string, peer_trusted_ca_file, "",
          "Path to the peer server TLS trusted CA file.");
ABSL_FLAG(bool, peer_client_cert_auth, false,
          "Require peers' certificates signed by --peer-trusted-ca-file.");
ABSL_FLAG(std::string, peer_crl_file, "",
          "Path to the peer certificate revocation list file.");
ABSL_FLAG(bool, peer_auto_tls, false,
          "Peer TLS using generated (self-signed) certificates.");
ABSL_FLAG(std::string, peer_cert_allowed_cn, "",
          "Allowed CommonName of peer certificates.");
ABSL_FLAG(std::string, peer_cert_allowed_hostname, "",
          "Allowed host name (SAN) of peer certificates.");
ABSL_FLAG(std::string, cipher_suites, "",
          "Comma-separated TLS 1.2 cipher suites (Go/IANA names) for both "
          "client and peer connections; empty: gRPC's defaults.");
ABSL_FLAG(std::string, tls_min_version, "TLS1.2",
          "Minimum TLS version (TLS1.2 or below: raftkv negotiates 1.2 and "
          "1.3).");
ABSL_FLAG(std::string, tls_max_version, "",
          "Maximum TLS version (empty or TLS1.3).");
ABSL_FLAG(bool, unsafe_no_read_index, false,
          "TEST ONLY: serve linearizable reads from local state.");
ABSL_FLAG(bool, unsafe_no_fsync, false,
          "TEST ONLY: never fsync the WAL (acknowledged writes can be lost).");
ABSL_FLAG(bool, unsafe_ack_before_commit, false,
          "TEST ONLY: answer a write as soon as the leader has taken it, "
          "before it commits (acknowledged writes can be lost).");

namespace raftkv::cmd {
namespace {

std::vector<std::string> SplitUrls(const std::string& s) {
  return absl::StrSplit(s, ',', absl::SkipWhitespace());
}

absl::Status ParseInitialCluster(const std::string& spec, ServerConfig* c) {
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--initial-cluster: expected name=url, got \"", item, "\""));
    }
    if (absl::Status s = HostPort(kv[1], "--initial-cluster").status();
        !s.ok()) {
      return s;
    }
    c->initial_cluster[kv[0]].push_back(kv[1]);
  }
  return absl::OkStatus();
}

absl::Status ComputeMembers(ServerConfig* c) {
  auto self = c->initial_cluster.find(c->name);
  if (self == c->initial_cluster.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--initial-cluster has no member named \"", c->name,
                     "\" (this member's --name)"));
  }
  std::vector<std::string> mine = c->initial_advertise_peer_urls;
  std::vector<std::string> listed = self->second;
  std::sort(mine.begin(), mine.end());
  std::sort(listed.begin(), listed.end());
  if (mine != listed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--initial-cluster lists ", c->name, "=", absl::StrJoin(listed, ","),
        " but --initial-advertise-peer-urls is ", absl::StrJoin(mine, ",")));
  }
  std::vector<uint64_t> ids;
  for (const auto& [name, urls] : c->initial_cluster) {
    kvpb::Member* m = c->initial_members.add_members();
    m->set_id(kv::MemberIdFor(urls, c->cluster_token));
    m->set_name(name);
    for (const auto& u : urls) m->add_peer_urls(u);
    ids.push_back(m->id());
    if (name == c->name) c->member_id = m->id();
  }
  c->cluster_id = kv::ClusterIdFor(ids, c->cluster_token);
  c->initial_members.set_cluster_id(c->cluster_id);
  return absl::OkStatus();
}

bool AnyHttps(const std::vector<std::string>& urls) {
  for (const auto& u : urls) {
    if (u.rfind("https://", 0) == 0) return true;
  }
  return false;
}

absl::Status TlsFromFlags(ServerConfig* c) {
  rpc::tls::TlsInfo& client = c->client_tls;
  client.side = "client";
  client.cert_file = absl::GetFlag(FLAGS_cert_file);
  client.key_file = absl::GetFlag(FLAGS_key_file);
  client.trusted_ca_file = absl::GetFlag(FLAGS_trusted_ca_file);
  client.client_cert_auth = absl::GetFlag(FLAGS_client_cert_auth);
  client.crl_file = absl::GetFlag(FLAGS_client_crl_file);
  client.auto_tls = absl::GetFlag(FLAGS_auto_tls) && client.cert_file.empty();
  rpc::tls::TlsInfo& peer = c->peer_tls;
  peer.side = "peer";
  peer.cert_file = absl::GetFlag(FLAGS_peer_cert_file);
  peer.key_file = absl::GetFlag(FLAGS_peer_key_file);
  peer.trusted_ca_file = absl::GetFlag(FLAGS_peer_trusted_ca_file);
  peer.client_cert_auth = absl::GetFlag(FLAGS_peer_client_cert_auth);
  peer.crl_file = absl::GetFlag(FLAGS_peer_crl_file);
  peer.auto_tls = absl::GetFlag(FLAGS_peer_auto_tls) && peer.cert_file.empty();
  peer.allowed_cn = absl::GetFlag(FLAGS_peer_cert_allowed_cn);
  peer.allowed_hostname = absl::GetFlag(FLAGS_peer_cert_allowed_hostname);
  for (const rpc::tls::TlsInfo* info : {&client, &peer}) {
    if (absl::Status s = rpc::tls::Validate(*info); !s.ok()) return s;
  }
  // etcd refuses an https URL without the certificate to serve it.
  if ((AnyHttps(c->listen_client_urls) || AnyHttps(c->advertise_client_urls)) &&
      !client.enabled()) {
    return absl::InvalidArgumentError(
        "raftkv: --listen-client-urls has an https URL: give --cert-file and "
        "--key-file, or --auto-tls");
  }
  if ((AnyHttps(c->listen_peer_urls) ||
       AnyHttps(c->initial_advertise_peer_urls)) &&
      !peer.enabled()) {
    return absl::InvalidArgumentError(
        "raftkv: --listen-peer-urls has an https URL: give --peer-cert-file "
        "and --peer-key-file, or --peer-auto-tls");
  }
  if (AnyHttps(c->listen_metrics_urls)) {
    return absl::InvalidArgumentError(
        "raftkv: --listen-metrics-urls: https metrics URLs are not supported "
        "yet; use http");
  }
  if (absl::Status s =
          rpc::tls::CheckVersions(absl::GetFlag(FLAGS_tls_min_version),
                                  absl::GetFlag(FLAGS_tls_max_version));
      !s.ok()) {
    return s;
  }
  return rpc::tls::SetCipherSuites(absl::StrSplit(
      absl::GetFlag(FLAGS_cipher_suites), ',', absl::SkipWhitespace()));
}

}  // namespace

absl::StatusOr<std::string> HostPort(const std::string& url,
                                     const std::string& flag) {
  std::string rest = url;
  for (const char* scheme : {"http://", "https://", "unix://"}) {
    if (rest.rfind(scheme, 0) == 0) rest = rest.substr(strlen(scheme));
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": \"", url, "\" is not a URL of the form http://host:port"));
  }
  return rest;
}

absl::StatusOr<ServerConfig> ConfigFromFlags() {
  ServerConfig c;
  c.name = absl::GetFlag(FLAGS_name);
  c.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (c.data_dir.empty()) c.data_dir = c.name + ".raftkv";
  c.listen_client_urls = SplitUrls(absl::GetFlag(FLAGS_listen_client_urls));
  c.advertise_client_urls =
      SplitUrls(absl::GetFlag(FLAGS_advertise_client_urls));
  if (c.advertise_client_urls.empty()) {
    c.advertise_client_urls = c.listen_client_urls;
  }
  c.listen_peer_urls = SplitUrls(absl::GetFlag(FLAGS_listen_peer_urls));
  c.initial_advertise_peer_urls =
      SplitUrls(absl::GetFlag(FLAGS_initial_advertise_peer_urls));
  if (c.initial_advertise_peer_urls.empty()) {
    c.initial_advertise_peer_urls = c.listen_peer_urls;
  }
  c.listen_metrics_urls = SplitUrls(absl::GetFlag(FLAGS_listen_metrics_urls));
  for (const auto& [flag, urls] :
       std::vector<std::pair<std::string, std::vector<std::string>*>>{
           {"--listen-client-urls", &c.listen_client_urls},
           {"--listen-peer-urls", &c.listen_peer_urls},
           {"--listen-metrics-urls", &c.listen_metrics_urls},
           {"--advertise-client-urls", &c.advertise_client_urls},
           {"--initial-advertise-peer-urls", &c.initial_advertise_peer_urls}}) {
    for (const auto& u : *urls) {
      if (absl::Status s = HostPort(u, flag).status(); !s.ok()) return s;
    }
  }
  if (c.listen_client_urls.empty() || c.listen_peer_urls.empty()) {
    return absl::InvalidArgumentError(
        "--listen-client-urls and --listen-peer-urls must not be empty");
  }
  c.cluster_token = absl::GetFlag(FLAGS_initial_cluster_token);
  std::string spec = absl::GetFlag(FLAGS_initial_cluster);
  if (spec.empty()) {
    for (const auto& u : c.initial_advertise_peer_urls) {
      absl::StrAppend(&spec, spec.empty() ? "" : ",", c.name, "=", u);
    }
  }
  if (absl::Status s = ParseInitialCluster(spec, &c); !s.ok()) return s;
  const std::string state = absl::GetFlag(FLAGS_initial_cluster_state);
  if (state != "new" && state != "existing") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--initial-cluster-state must be \"new\" or \"existing\", not \"",
        state, "\""));
  }
  c.new_cluster = state == "new";
  c.snapshot_count = absl::GetFlag(FLAGS_snapshot_count);
  c.heartbeat_ms = absl::GetFlag(FLAGS_heartbeat_interval);
  c.election_ms = absl::GetFlag(FLAGS_election_timeout);
  if (c.heartbeat_ms <= 0 || c.election_ms < 2 * c.heartbeat_ms) {
    return absl::InvalidArgumentError(
        "--election-timeout must be at least twice --heartbeat-interval "
        "(and both positive)");
  }
  if (c.snapshot_count == 0) {
    return absl::InvalidArgumentError("--snapshot-count must be positive");
  }
  c.quota_backend_bytes = absl::GetFlag(FLAGS_quota_backend_bytes);
  c.max_request_bytes = absl::GetFlag(FLAGS_max_request_bytes);
  c.max_txn_ops = absl::GetFlag(FLAGS_max_txn_ops);
  if (c.max_request_bytes <= 0 || c.max_txn_ops <= 0) {
    return absl::InvalidArgumentError(
        "--max-request-bytes and --max-txn-ops must be positive");
  }
  c.unsafe_no_read_index = absl::GetFlag(FLAGS_unsafe_no_read_index);
  c.strict_reconfig_check = absl::GetFlag(FLAGS_strict_reconfig_check);
  c.initial_corrupt_check =
      absl::GetFlag(FLAGS_experimental_initial_corrupt_check);
  c.lease_checkpoint_interval = absl::GetFlag(FLAGS_lease_checkpoint_interval);
  if (c.lease_checkpoint_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--lease-checkpoint-interval must be positive");
  }
  c.unsafe_no_fsync = absl::GetFlag(FLAGS_unsafe_no_fsync);
  c.unsafe_ack_before_commit = absl::GetFlag(FLAGS_unsafe_ack_before_commit);
  if (absl::Status s = TlsFromFlags(&c); !s.ok()) return s;
  if (absl::Status s = ComputeMembers(&c); !s.ok()) return s;
  return c;
}

}  // namespace raftkv::cmd
