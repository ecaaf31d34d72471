// Joining an existing cluster (--initial-cluster-state=existing), as etcd
// does: the member was added first (`etcdctl member add`), which gave it an
// ID; it learns that ID and the cluster ID from its peers' member list
// (etcd: GET /members on the peer URLs), starts with an empty log and no
// bootstrap, and receives the data from the leader (log or snapshot).
#ifndef RAFTKV_CMD_RAFTKV_JOIN_H_
#define RAFTKV_CMD_RAFTKV_JOIN_H_

#include "absl/status/status.h"
#include "cmd/raftkv/config.h"

namespace raftkv::cmd {

// REQUIRES: !c->new_cluster, or <data-dir>/members.pb exists (a restart,
// whatever --initial-cluster-state says). Sets c->member_id, c->cluster_id and
// c->initial_members from <data-dir>/members.pb if it exists (a restart),
// else from the first peer in --initial-cluster that answers and lists a
// member with this member's --initial-advertise-peer-urls (retrying for up
// to `wait`). FailedPrecondition if this member is not (or no longer) in
// the list, Unavailable if no peer answered.
absl::Status JoinExisting(ServerConfig* c, absl::Duration wait);

}  // namespace raftkv::cmd

#endif  // RAFTKV_CMD_RAFTKV_JOIN_H_
