#include "cmd/raftkv/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cmd/raftkv/config_file.h"
#include "kv/members.h"
#include "kv/quota.h"

namespace raftkv::cmd {
namespace {

// etcd refuses longer election timeouts (embed.Config.Validate).
constexpr uint64_t kMaxElectionMs = 50000;

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  for (absl::string_view item :
       absl::StrSplit(s, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(item));
  }
  return out;
}

bool GetBool(const FlagValues& v, absl::string_view name) {
  const std::string s = v.Get(name);
  return s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" ||
         s == "True";
}

// REQUIRES: the value passed CheckValue for its unsigned or signed kind.
uint64_t GetUint(const FlagValues& v, absl::string_view name) {
  return std::strtoull(v.Get(name).c_str(), nullptr, 0);
}
int64_t GetInt(const FlagValues& v, absl::string_view name) {
  return std::strtoll(v.Get(name).c_str(), nullptr, 0);
}
absl::Duration GetDuration(const FlagValues& v, absl::string_view name) {
  absl::Duration d;
  if (!absl::ParseDuration(v.Get(name), &d)) d = absl::ZeroDuration();
  return d;
}

absl::Status Invalid(const FlagValues& v, absl::string_view name,
                     absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(v.Origin(name), " ", why));
}

absl::Status OneOf(const FlagValues& v, absl::string_view name,
                   std::vector<std::string> valid) {
  const std::string value = v.Get(name);
  if (std::find(valid.begin(), valid.end(), value) != valid.end()) {
    return absl::OkStatus();
  }
  return Invalid(v, name,
                 absl::StrCat("must be one of ", absl::StrJoin(valid, ", "),
                              ", not \"", value, "\""));
}

absl::Status ParseInitialCluster(const std::string& spec,
                                 const std::string& origin, ServerConfig* c) {
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": expected name=url, got \"", item, "\""));
    }
    if (absl::Status s = HostPort(kv[1], origin).status(); !s.ok()) {
      return s;
    }
    // A name may repeat: one member with several peer URLs.
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
    if (u.rfind("https://", 0) == 0 || u.rfind("unixs://", 0) == 0) {
      return true;
    }
  }
  return false;
}

absl::Status Tls(const FlagValues& v, ServerConfig* c) {
  rpc::tls::TlsInfo& client = c->client_tls;
  client.side = "client";
  client.cert_file = v.Get("cert-file");
  client.key_file = v.Get("key-file");
  client.trusted_ca_file = v.Get("trusted-ca-file");
  client.client_cert_auth = GetBool(v, "client-cert-auth");
  client.crl_file = v.Get("client-crl-file");
  client.allowed_hostname = v.Get("client-cert-allowed-hostname");
  client.auto_tls = GetBool(v, "auto-tls") && client.cert_file.empty();
  rpc::tls::TlsInfo& peer = c->peer_tls;
  peer.side = "peer";
  peer.cert_file = v.Get("peer-cert-file");
  peer.key_file = v.Get("peer-key-file");
  peer.trusted_ca_file = v.Get("peer-trusted-ca-file");
  peer.client_cert_auth = GetBool(v, "peer-client-cert-auth");
  peer.crl_file = v.Get("peer-crl-file");
  peer.auto_tls = GetBool(v, "peer-auto-tls") && peer.cert_file.empty();
  peer.allowed_cn = v.Get("peer-cert-allowed-cn");
  peer.allowed_hostname = v.Get("peer-cert-allowed-hostname");
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
  if (absl::Status s = rpc::tls::CheckVersions(v.Get("tls-min-version"),
                                               v.Get("tls-max-version"));
      !s.ok()) {
    return s;
  }
  return rpc::tls::SetCipherSuites(SplitList(v.Get("cipher-suites")));
}

// etcd binds only to IP addresses, "localhost" and unix sockets.
absl::Status CheckBindable(const std::vector<std::string>& urls,
                           const std::string& origin) {
  for (const auto& url : urls) {
    if (absl::StartsWith(url, "unix")) continue;
    auto hp = HostPort(url, origin);
    if (!hp.ok()) return hp.status();
    std::string host = hp->substr(0, hp->rfind(':'));
    if (host.size() > 1 && host.front() == '[') {
      host = host.substr(1, host.size() - 2);
    }
    if (host == "localhost") continue;
    unsigned char buf[16];
    if (inet_pton(AF_INET, host.c_str(), buf) != 1 &&
        inet_pton(AF_INET6, host.c_str(), buf) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": expected IP in URL for binding (", url, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status Urls(const FlagValues& v, ServerConfig* c) {
  c->listen_client_urls = SplitList(v.Get("listen-client-urls"));
  c->advertise_client_urls = SplitList(v.Get("advertise-client-urls"));
  if (c->advertise_client_urls.empty()) {
    c->advertise_client_urls = c->listen_client_urls;
  }
  c->listen_peer_urls = SplitList(v.Get("listen-peer-urls"));
  c->initial_advertise_peer_urls =
      SplitList(v.Get("initial-advertise-peer-urls"));
  if (c->initial_advertise_peer_urls.empty()) {
    c->initial_advertise_peer_urls = c->listen_peer_urls;
  }
  c->listen_metrics_urls = SplitList(v.Get("listen-metrics-urls"));
  for (const auto& [flag, urls] :
       std::vector<std::pair<std::string, std::vector<std::string>*>>{
           {"listen-client-urls", &c->listen_client_urls},
           {"listen-peer-urls", &c->listen_peer_urls},
           {"listen-metrics-urls", &c->listen_metrics_urls},
           {"advertise-client-urls", &c->advertise_client_urls},
           {"initial-advertise-peer-urls", &c->initial_advertise_peer_urls}}) {
    for (const auto& u : *urls) {
      if (absl::Status s = HostPort(u, v.Origin(flag)).status(); !s.ok()) {
        return s;
      }
    }
    if (absl::StartsWith(flag, "listen-")) {
      if (absl::Status s = CheckBindable(*urls, v.Origin(flag)); !s.ok()) {
        return s;
      }
    }
  }
  if (c->listen_client_urls.empty() || c->listen_peer_urls.empty()) {
    return absl::InvalidArgumentError(
        "--listen-client-urls and --listen-peer-urls must not be empty");
  }
  return absl::OkStatus();
}

absl::Status Cluster(const FlagValues& v, ServerConfig* c) {
  c->cluster_token = v.Get("initial-cluster-token");
  std::string spec = v.Get("initial-cluster");
  if (spec.empty()) {
    for (const auto& u : c->initial_advertise_peer_urls) {
      absl::StrAppend(&spec, spec.empty() ? "" : ",", c->name, "=", u);
    }
  }
  if (absl::Status s =
          ParseInitialCluster(spec, v.Origin("initial-cluster"), c);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = OneOf(v, "initial-cluster-state", {"new", "existing"});
      !s.ok()) {
    return s;
  }
  c->new_cluster = v.Get("initial-cluster-state") == "new";
  return absl::OkStatus();
}

absl::Status Raft(const FlagValues& v, ServerConfig* c) {
  c->snapshot_count = GetUint(v, "snapshot-count");
  const uint64_t heartbeat = GetUint(v, "heartbeat-interval");
  const uint64_t election = GetUint(v, "election-timeout");
  if (heartbeat == 0 || election < 2 * heartbeat) {
    return absl::InvalidArgumentError(
        absl::StrCat(v.Origin("election-timeout"), " must be at least twice ",
                     v.Origin("heartbeat-interval"), " (and both positive)"));
  }
  if (election > kMaxElectionMs) {
    return Invalid(v, "election-timeout",
                   absl::StrCat("[", election,
                                "ms] is too long, and should be set less "
                                "than ",
                                kMaxElectionMs, "ms"));
  }
  c->heartbeat_ms = static_cast<int>(heartbeat);
  c->election_ms = static_cast<int>(election);
  if (c->snapshot_count == 0) {
    return Invalid(v, "snapshot-count", "must be positive");
  }
  c->strict_reconfig_check = GetBool(v, "strict-reconfig-check");
  c->initial_corrupt_check = GetBool(v, "experimental-initial-corrupt-check");
  c->corrupt_check_time = GetDuration(v, "experimental-corrupt-check-time");
  if (c->corrupt_check_time < absl::ZeroDuration()) {
    return Invalid(v, "experimental-corrupt-check-time",
                   "must not be negative");
  }
  c->unsafe_no_read_index = GetBool(v, "unsafe-no-read-index");
  c->unsafe_no_fsync = GetBool(v, "unsafe-no-fsync");
  c->unsafe_ack_before_commit = GetBool(v, "unsafe-ack-before-commit");
  return absl::OkStatus();
}

absl::Status Limits(const FlagValues& v, ServerConfig* c) {
  c->quota_backend_bytes = GetInt(v, "quota-backend-bytes");
  // As etcd: 0 means the default (2 GiB), a negative value no quota.
  if (c->quota_backend_bytes == 0) {
    c->quota_backend_bytes = kv::kDefaultQuotaBytes;
  }
  c->max_request_bytes = static_cast<int64_t>(GetUint(v, "max-request-bytes"));
  c->max_txn_ops = static_cast<int64_t>(GetUint(v, "max-txn-ops"));
  if (c->max_request_bytes <= 0 || c->max_txn_ops <= 0) {
    return absl::InvalidArgumentError(
        "--max-request-bytes and --max-txn-ops must be positive");
  }
  // etcd's default, math.MaxUint32, is gRPC's own (no limit): 0 here.
  const uint64_t streams = GetUint(v, "max-concurrent-streams");
  c->max_concurrent_streams =
      streams == 0xffffffffULL ? 0 : static_cast<uint32_t>(streams);
  c->enable_grpc_gateway = GetBool(v, "enable-grpc-gateway");
  return absl::OkStatus();
}

absl::Status Leases(const FlagValues& v, ServerConfig* c) {
  c->lease_checkpoint_interval = GetDuration(v, "lease-checkpoint-interval");
  if (c->lease_checkpoint_interval <= absl::ZeroDuration()) {
    return Invalid(v, "lease-checkpoint-interval", "must be positive");
  }
  if (GetBool(v, "experimental-enable-lease-checkpoint-persist") &&
      !GetBool(v, "experimental-enable-lease-checkpoint")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "setting ", v.Origin("experimental-enable-lease-checkpoint-persist"),
        " requires experimental-enable-lease-checkpoint"));
  }
  c->watch_progress_notify_interval =
      GetDuration(v, "experimental-watch-progress-notify-interval");
  if (c->watch_progress_notify_interval < absl::Milliseconds(100)) {
    return Invalid(v, "experimental-watch-progress-notify-interval",
                   "must be at least 100ms");
  }
  return OneOf(v, "auto-compaction-mode", {"periodic", "revision", ""});
}

// etcd's --auth-token: "simple", or "jwt,key=value,..." with a known
// sign-method, a ttl duration, and readable key files.
absl::Status AuthToken(const FlagValues& v, ServerConfig* c) {
  const std::string token = v.Get("auth-token");
  std::vector<std::string> parts = absl::StrSplit(token, ',');
  const std::string& type = parts[0];
  if (type != "simple" && type != "jwt") {
    return Invalid(
        v, "auth-token",
        absl::StrCat("\"", token, "\": the token type must be simple or jwt"));
  }
  std::map<std::string, std::string> opts;
  for (size_t i = 1; i < parts.size(); ++i) {
    std::vector<std::string> kv = absl::StrSplit(parts[i], '=');
    if (kv.size() != 2 || !opts.emplace(kv[0], kv[1]).second) {
      return Invalid(v, "auth-token",
                     absl::StrCat("\"", token, "\": bad or repeated option \"",
                                  parts[i], "\""));
    }
  }
  if (type == "jwt") {
    static const std::vector<std::string> kMethods = {
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"};
    if (std::find(kMethods.begin(), kMethods.end(), opts["sign-method"]) ==
        kMethods.end()) {
      return Invalid(
          v, "auth-token",
          absl::StrCat("\"", token, "\": jwt needs sign-method=one of ",
                       absl::StrJoin(kMethods, ",")));
    }
    absl::Duration ttl;
    if (!opts["ttl"].empty() && !absl::ParseDuration(opts["ttl"], &ttl)) {
      return Invalid(v, "auth-token",
                     absl::StrCat("\"", token, "\": ttl is not a duration"));
    }
    for (const char* key : {"pub-key", "priv-key"}) {
      const std::string& file = opts[key];
      if (!file.empty() && access(file.c_str(), R_OK) != 0) {
        return Invalid(
            v, "auth-token",
            absl::StrCat(key, " file \"", file, "\": ", std::strerror(errno)));
      }
    }
  } else if (parts.size() > 1) {
    return Invalid(v, "auth-token", "simple takes no options");
  }
  c->auth_token = token;
  const uint64_t cost = GetUint(v, "bcrypt-cost");
  if (cost < 4 || cost > 31) {
    return Invalid(v, "bcrypt-cost", "must be between 4 and 31");
  }
  c->bcrypt_cost = static_cast<uint32_t>(cost);
  c->auth_token_ttl = GetUint(v, "auth-token-ttl");
  return absl::OkStatus();
}

absl::Status Logging(const FlagValues& v, ServerConfig* c) {
  if (absl::Status s = OneOf(v, "logger", {"capnslog", "zap"}); !s.ok()) {
    return s;
  }
  c->logger = v.Get("logger");
  if (absl::Status s =
          OneOf(v, "log-level",
                {"debug", "info", "warn", "error", "dpanic", "panic", "fatal"});
      !s.ok()) {
    return s;
  }
  c->log_level = GetBool(v, "debug") ? "debug" : v.Get("log-level");
  // The deprecated spelling counts only when the new one is not given.
  const char* flag = v.IsSet("log-outputs") || !v.IsSet("log-output")
                         ? "log-outputs"
                         : "log-output";
  std::vector<std::string> outputs = SplitList(v.Get(flag));
  std::sort(outputs.begin(), outputs.end());
  outputs.erase(std::unique(outputs.begin(), outputs.end()), outputs.end());
  if (outputs.size() != 1) {
    return Invalid(v, flag,
                   "must name one output: raftkv writes its log to one place");
  }
  if (outputs[0] == "systemd/journal") {
    return Invalid(v, flag,
                   "systemd/journal is not supported: raftkv writes to "
                   "stderr, which systemd sends to the journal anyway");
  }
  c->log_output = outputs[0] == "default" ? "stderr" : outputs[0];
  return absl::OkStatus();
}

absl::Status Discovery(const FlagValues& v) {
  if (absl::Status s = OneOf(v, "discovery-fallback", {"exit", "proxy"});
      !s.ok()) {
    return s;
  }
  return OneOf(v, "proxy", {"off", "readonly", "on"});
}

}  // namespace

absl::StatusOr<std::string> HostPort(const std::string& url,
                                     const std::string& flag) {
  std::string rest = url;
  for (const char* scheme : {"http://", "https://", "unix://", "unixs://"}) {
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

absl::StatusOr<std::string> GrpcAddress(const std::string& url,
                                        const std::string& flag) {
  auto hp = HostPort(url, flag);
  if (!hp.ok()) return hp.status();
  if (absl::StartsWith(url, "unix")) return absl::StrCat("unix:", *hp);
  return hp;
}

absl::StatusOr<ServerConfig> ConfigFromValues(const FlagValues& v) {
  if (absl::Status s = CheckRefused(v); !s.ok()) return s;
  ServerConfig c;
  c.name = v.Get("name");
  c.data_dir = v.Get("data-dir");
  if (c.data_dir.empty()) c.data_dir = c.name + ".raftkv";
  for (auto step :
       {Urls, Cluster, Raft, Limits, Leases, AuthToken, Logging, Tls}) {
    if (absl::Status s = step(v, &c); !s.ok()) return s;
  }
  if (absl::Status s = Discovery(v); !s.ok()) return s;
  if (absl::Status s = ComputeMembers(&c); !s.ok()) return s;
  return c;
}

absl::StatusOr<Invocation> ParseInvocation(
    const std::vector<std::string>& args,
    const std::vector<std::string>& environ) {
  auto cl = ParseCommandLine(args);
  if (!cl.ok()) return cl.status();
  Invocation inv;
  inv.log = cl->warnings;
  if (cl->help || cl->version) {
    inv.action =
        cl->help ? Invocation::Action::kHelp : Invocation::Action::kVersion;
    return inv;
  }
  if (cl->check_config) inv.action = Invocation::Action::kCheckConfig;
  std::string file = cl->config_file;
  if (file.empty()) {
    for (const std::string& kv : environ) {
      if (absl::StartsWith(kv, "ETCD_CONFIG_FILE=")) {
        file = kv.substr(strlen("ETCD_CONFIG_FILE="));
      }
    }
  }
  FlagValues values;
  if (!file.empty()) {
    auto from_file = ReadConfigFile(file, &inv.log);
    if (!from_file.ok()) return from_file.status();
    values = *std::move(from_file);
  } else {
    values = cl->flags;
    if (absl::Status s = ApplyEnvironment(environ, &values, &inv.log);
        !s.ok()) {
      return s;
    }
  }
  auto config = ConfigFromValues(values);
  if (!config.ok()) return config.status();
  inv.config = *std::move(config);
  if (!file.empty()) {
    // etcd's two wordings, by logger.
    inv.log.push_back(
        inv.config.logger == "zap"
            ? absl::StrCat("loaded server configuration, other configuration "
                           "command line flags and environment variables "
                           "will be ignored if provided path=",
                           file)
            : absl::StrCat("Loading server configuration from \"", file,
                           "\". Other configuration command line flags and "
                           "environment variables will be ignored if "
                           "provided."));
  }
  return inv;
}

std::string DescribeConfig(const ServerConfig& c) {
  std::string out;
  auto line = [&out](absl::string_view key, absl::string_view value) {
    absl::StrAppend(&out, key, "=", value, "\n");
  };
  line("name", c.name);
  line("data-dir", c.data_dir);
  line("listen-client-urls", absl::StrJoin(c.listen_client_urls, ","));
  line("advertise-client-urls", absl::StrJoin(c.advertise_client_urls, ","));
  line("listen-peer-urls", absl::StrJoin(c.listen_peer_urls, ","));
  line("initial-advertise-peer-urls",
       absl::StrJoin(c.initial_advertise_peer_urls, ","));
  line("listen-metrics-urls", absl::StrJoin(c.listen_metrics_urls, ","));
  std::vector<std::string> cluster;
  for (const auto& [name, urls] : c.initial_cluster) {
    for (const auto& u : urls) cluster.push_back(absl::StrCat(name, "=", u));
  }
  line("initial-cluster", absl::StrJoin(cluster, ","));
  line("initial-cluster-state", c.new_cluster ? "new" : "existing");
  line("initial-cluster-token", c.cluster_token);
  line("member-id", absl::StrCat(absl::Hex(c.member_id)));
  line("cluster-id", absl::StrCat(absl::Hex(c.cluster_id)));
  line("snapshot-count", absl::StrCat(c.snapshot_count));
  line("heartbeat-interval", absl::StrCat(c.heartbeat_ms));
  line("election-timeout", absl::StrCat(c.election_ms));
  line("quota-backend-bytes", absl::StrCat(c.quota_backend_bytes));
  line("max-request-bytes", absl::StrCat(c.max_request_bytes));
  line("max-txn-ops", absl::StrCat(c.max_txn_ops));
  line("max-concurrent-streams", absl::StrCat(c.max_concurrent_streams));
  line("strict-reconfig-check", c.strict_reconfig_check ? "true" : "false");
  line("enable-grpc-gateway", c.enable_grpc_gateway ? "true" : "false");
  line("experimental-initial-corrupt-check",
       c.initial_corrupt_check ? "true" : "false");
  line("experimental-corrupt-check-time",
       absl::FormatDuration(c.corrupt_check_time));
  line("experimental-watch-progress-notify-interval",
       absl::FormatDuration(c.watch_progress_notify_interval));
  line("lease-checkpoint-interval",
       absl::FormatDuration(c.lease_checkpoint_interval));
  line("auth-token", c.auth_token);
  line("logger", c.logger);
  line("log-level", c.log_level);
  line("log-outputs", c.log_output);
  line("client-tls", c.client_tls.enabled() ? "on" : "off");
  line("peer-tls", c.peer_tls.enabled() ? "on" : "off");
  line("unsafe-no-fsync", c.unsafe_no_fsync ? "true" : "false");
  return out;
}

absl::Status RedirectLog(const ServerConfig& c) {
  int fd = -1;
  if (c.log_output == "stderr") return absl::OkStatus();
  if (c.log_output == "stdout") {
    fd = STDOUT_FILENO;
  } else {
    fd = open(c.log_output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
              0644);
    if (fd < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("raftkv: --log-outputs: cannot open \"", c.log_output,
                       "\": ", std::strerror(errno)));
    }
  }
  if (dup2(fd, STDERR_FILENO) < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("raftkv: --log-outputs: dup2: ", std::strerror(errno)));
  }
  if (fd != STDOUT_FILENO) close(fd);
  return absl::OkStatus();
}

}  // namespace raftkv::cmd
