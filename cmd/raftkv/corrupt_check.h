// --experimental-initial-corrupt-check, as etcd 3.4 does it: before a
// member serves clients it hashes its store (MvccStore::HashKV at its
// current revision) and asks every peer, over the peer port, for its hash
// at the same revision. A peer with the same compact revision and another
// hash means one of the two holds different data: the member refuses to
// start ("<id> found data inconsistency with peers"). Peers that cannot be
// compared (unreachable, behind this member, compacted past its revision,
// or at another compact revision) are logged and skipped, as in etcd.
#ifndef RAFTKV_CMD_RAFTKV_CORRUPT_CHECK_H_
#define RAFTKV_CMD_RAFTKV_CORRUPT_CHECK_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cmd/raftkv/config.h"
#include "kv/state_machine.h"

namespace raftkv::cmd {

// Each peer is given `per_peer` to answer.
absl::Status InitialCorruptCheck(const ServerConfig& c, kv::StateMachine& sm,
                                 absl::Duration per_peer);

}  // namespace raftkv::cmd

#endif  // RAFTKV_CMD_RAFTKV_CORRUPT_CHECK_H_
