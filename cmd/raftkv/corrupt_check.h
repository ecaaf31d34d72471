// --experimental-initial-corrupt-check, as etcd 3.4 does it: before a
// member serves clients it hashes its store (MvccStore::HashKV at its
// current revision) and asks every peer, over the peer port, for its hash
// at the same revision. A peer with the same compact revision and another
// hash means one of the two holds different data: the member refuses to
// start ("<id> found data inconsistency with peers"). Peers that cannot be
// compared (unreachable, behind this member, compacted past its revision,
// or at another compact revision) are logged and skipped, as in etcd.
//
// CorruptionMonitor is --experimental-corrupt-check-time: while this member
// leads, every interval and after each compaction it applies, it compares
// its HashKV at its current revision with every peer's at the same
// revision (a peer that has not applied that revision or that compaction
// yet is asked again for up to two seconds). A
// peer at the same compact revision with another hash gets the CORRUPT
// alarm, proposed through Raft so that every member then refuses writes
// ("etcdserver: corrupt cluster"); so does the leader itself if its own
// hash at one revision changes between two reads. As etcd 3.4's
// monitorKVHash.
#ifndef RAFTKV_CMD_RAFTKV_CORRUPT_CHECK_H_
#define RAFTKV_CMD_RAFTKV_CORRUPT_CHECK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cmd/raftkv/config.h"
#include "grpcpp/security/credentials.h"
#include "kv/state_machine.h"
#include "raft/node/node.h"
#include "rpc/raft_peer.pb.h"
#include "rpc/server/etcd_server.h"

namespace raftkv::cmd {

// Each peer is given `per_peer` to answer.
absl::Status InitialCorruptCheck(const ServerConfig& c, kv::StateMachine& sm,
                                 absl::Duration per_peer);

// One peer's answer to "your HashKV at revision R".
struct PeerHash {
  uint64_t id = 0;
  std::string url;  // the peer URL asked last
  bool ok = false;  // else `why` says why it cannot be compared
  std::string why;  // etcd's words: "peer is lagging behind", ...
  peerpb::HashKVResponse resp;
};

// Asks every member of `members` but `self` for its HashKV at `revision`
// over its peer URLs (the first that answers), each within `per_peer`.
std::vector<PeerHash> FetchPeerHashes(
    uint64_t self, uint64_t cluster_id, const kvpb::MemberList& members,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    int64_t revision, absl::Duration per_peer);

// Thread safety: thread-safe; the constructor starts a thread, the
// destructor stops and joins it. `sm`, `node` and `server` must outlive
// the monitor.
class CorruptionMonitor {
 public:
  static absl::StatusOr<std::unique_ptr<CorruptionMonitor>> Start(
      const ServerConfig& c, kv::StateMachine* sm, raft::Node* node,
      rpc::EtcdServer* server);
  ~CorruptionMonitor();
  CorruptionMonitor(const CorruptionMonitor&) = delete;
  CorruptionMonitor& operator=(const CorruptionMonitor&) = delete;

  // Checks run so far while leading (for tests and logs).
  int64_t checks() const;

 private:
  struct State;
  CorruptionMonitor(const ServerConfig& c, kv::StateMachine* sm,
                    raft::Node* node, rpc::EtcdServer* server,
                    std::shared_ptr<grpc::ChannelCredentials> credentials);
  void Loop();
  // One comparison at `revision` (0: the current one).
  void Check(int64_t revision);
  void RaiseCorrupt(uint64_t member_id);

  const uint64_t self_;
  const uint64_t cluster_id_;
  const absl::Duration interval_;
  kv::StateMachine* const sm_;
  raft::Node* const node_;
  rpc::EtcdServer* const server_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  // Shared with the state machine's compaction observer, which may run
  // after the monitor is gone.
  const std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace raftkv::cmd

#endif  // RAFTKV_CMD_RAFTKV_CORRUPT_CHECK_H_
