// Flag parsing and validation for the raftkv server: etcd's flag names and
// defaults where the meaning is the same, with errors that name the flag.
#ifndef RAFTKV_CMD_RAFTKV_CONFIG_H_
#define RAFTKV_CMD_RAFTKV_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
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

  // Derived from --initial-cluster and the token for a new cluster; for
  // --initial-cluster-state=existing, replaced by JoinExisting (join.h) with
  // what the cluster assigned.
  uint64_t member_id = 0;
  uint64_t cluster_id = 0;
  kvpb::MemberList initial_members;  // with IDs, names and peer URLs
};

// Reads the parsed absl flags into a validated config.
absl::StatusOr<ServerConfig> ConfigFromFlags();

// "http://127.0.0.1:2379" -> "127.0.0.1:2379"; errors name the flag.
absl::StatusOr<std::string> HostPort(const std::string& url,
                                     const std::string& flag);

}  // namespace raftkv::cmd

#endif  // RAFTKV_CMD_RAFTKV_CONFIG_H_
