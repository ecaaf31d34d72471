// The etcd version raftkv reports, in the one place every report reads it:
// Maintenance.Status's `version`, /version's `etcdserver` and `etcdcluster`,
// the `etcd_server_version{server_version=...}` metric and the readiness
// line "enabled capabilities for version ...".
//
// Clients gate features on it: Kubernetes (1.31+) enables its watch cache's
// RequestWatchProgress and consistent reads from cache only for etcd >=
// 3.4.31 on the 3.4 line. The level is earned, not claimed: raise it only
// when every client-visible behaviour etcd's 3.4 patch releases added up to
// it is implemented and tested, with a table of them in docs/api-level.md
// (issue 17). Until then raftkv reports 3.4.0, as it always has.
#ifndef RAFTKV_RPC_SERVER_API_LEVEL_H_
#define RAFTKV_RPC_SERVER_API_LEVEL_H_

namespace raftkv::rpc {

// The etcd server version raftkv behaves as (etcd's version.Version).
inline constexpr char kEtcdServerVersion[] = "3.4.0";
// The cluster version, as etcd reports it: major.minor.0 of the lowest
// member version (etcd's membership.RaftCluster.Version()).
inline constexpr char kEtcdClusterVersion[] = "3.4.0";
// major.minor, as etcd's "enabled capabilities for version" line prints it.
inline constexpr char kEtcdApiVersion[] = "3.4";
// raftkv's own version, beside etcd's in /version.
inline constexpr char kRaftkvVersion[] = "0.1.0";

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_SERVER_API_LEVEL_H_
