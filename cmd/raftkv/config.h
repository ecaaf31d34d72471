// The raftkv server's configuration: etcd 3.4's command line, ETCD_*
// variables or --config-file (etcd_flags.h, config_file.h) turned into a
// validated ServerConfig, with errors that name the flag, variable or key.
#ifndef RAFTKV_CMD_RAFTKV_CONFIG_H_
#define RAFTKV_CMD_RAFTKV_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cmd/raftkv/etcd_flags.h"
#include "kv/requestpb.pb.h"
#include "rpc/tls/credentials.h"

namespace raftkv::cmd {

struct ServerConfig {
  std::string name;
  std::string data_dir;
  std::vector<std::string> listen_client_urls;
  std::vector<std::string> advertise_client_urls;
  std::vector<std::string> listen_peer_urls;
  std::vector<std::string> initial_advertise_peer_urls;
  std::vector<std::string> listen_metrics_urls;
  // name -> peer URLs
  std::map<std::string, std::vector<std::string>> initial_cluster;
  bool new_cluster = true;  // --initial-cluster-state=new
  std::string cluster_token;
  uint64_t snapshot_count = 0;
  int heartbeat_ms = 0;
  int election_ms = 0;
  // --quota-backend-bytes (kv/quota.h): 0 given becomes etcd's 2 GiB;
  // negative: no quota.
  int64_t quota_backend_bytes = 0;
  int64_t max_request_bytes = 0;
  int64_t max_txn_ops = 0;
  absl::Duration lease_checkpoint_interval;
  bool strict_reconfig_check = true;
  bool unsafe_no_read_index = false;
  bool unsafe_no_fsync = false;
  bool unsafe_ack_before_commit = false;
  // --experimental-initial-corrupt-check: before serving, compare this
  // member's HashKV with every reachable peer's at the same revision and
  // refuse to start on a mismatch (etcd's "found data inconsistency").
  bool initial_corrupt_check = false;
  // --experimental-corrupt-check-time: how often the leader compares its
  // HashKV with every member's and raises CORRUPT on a mismatch (0: never).
  absl::Duration corrupt_check_time = absl::ZeroDuration();
  // --enable-grpc-gateway: serve the JSON gateway (/v3/...) on http(s)
  // client URLs next to gRPC (etcd's default: on).
  bool enable_grpc_gateway = true;
  // --max-concurrent-streams: per-connection HTTP/2 stream limit on the
  // client port; 0 = gRPC's default (unlimited, as etcd's math.MaxUint32).
  uint32_t max_concurrent_streams = 0;
  // TLS (etcd's flags): the client listener's and the peer one's. Auto TLS
  // certificates are made by the member, in its data dir, at start.
  rpc::tls::TlsInfo client_tls;
  rpc::tls::TlsInfo peer_tls;
  // --experimental-watch-progress-notify-interval (at least 100ms).
  absl::Duration watch_progress_notify_interval = absl::Minutes(10);
  // --auth-token as given: "simple", or "jwt" with its options, checked
  // (sign method known, key files readable). Auth is not built yet.
  std::string auth_token = "simple";
  uint32_t bcrypt_cost = 10;      // --bcrypt-cost, 4..31
  uint64_t auth_token_ttl = 300;  // --auth-token-ttl, seconds
  // --logger ("capnslog" or "zap") and --log-level (or "debug" for --debug):
  // checked, kept for the log lines that differ by logger.
  std::string logger = "capnslog";
  std::string log_level = "info";
  // --log-outputs: "stderr", "stdout" or a file path (RedirectLog).
  std::string log_output = "stderr";

  // Derived from --initial-cluster and the token for a new cluster; for
  // --initial-cluster-state=existing, replaced by JoinExisting (join.h) with
  // what the cluster assigned.
  uint64_t member_id = 0;
  uint64_t cluster_id = 0;
  kvpb::MemberList initial_members;  // with IDs, names and peer URLs
};

// Validates `values` (from the command line and environment, or from a
// config file) into a config. Errors name the value's origin.
absl::StatusOr<ServerConfig> ConfigFromValues(const FlagValues& values);

// What the raftkv binary was asked to do.
struct Invocation {
  enum class Action { kRun, kHelp, kVersion, kCheckConfig };
  Action action = Action::kRun;
  ServerConfig config;  // for kRun and kCheckConfig
  // Lines for the log, in order: warnings (retired flags, unknown ETCD_*
  // variables or file keys), variables used, the config-file notice.
  std::vector<std::string> log;
};

// args without argv[0]; environ as "KEY=VALUE". As etcd 3.4: with
// --config-file (or ETCD_CONFIG_FILE when the flag is absent) every setting
// comes from the file and the other flags (still syntax-checked) and
// ETCD_* variables are ignored; otherwise flags, then ETCD_* variables.
absl::StatusOr<Invocation> ParseInvocation(
    const std::vector<std::string>& args,
    const std::vector<std::string>& environ);

// The config in named fields, one per line, for --raftkv-check-config.
std::string DescribeConfig(const ServerConfig& c);

// Points stderr (every log line of raftkv) at config.log_output.
absl::Status RedirectLog(const ServerConfig& c);

// "http://127.0.0.1:2379" -> "127.0.0.1:2379"; errors name the flag.
absl::StatusOr<std::string> HostPort(const std::string& url,
                                     const std::string& flag);

// The address gRPC listens on or dials for an etcd URL: "host:port" for
// http(s), "unix:PATH" for unix(s), PATH as the URL spells it (etcd's
// unix://etcd.unix:1 is the file "etcd.unix:1" in the working directory).
// Not used yet by the listeners (rpc/peer, Member::StartClientServer),
// which still take HostPort.
absl::StatusOr<std::string> GrpcAddress(const std::string& url,
                                        const std::string& flag);

}  // namespace raftkv::cmd

#endif  // RAFTKV_CMD_RAFTKV_CONFIG_H_
