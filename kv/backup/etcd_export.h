// The backup half of raftkv's etcd compatibility: writes a point-in-time copy
// of the store as a bbolt database in etcd 3.4's schema (etcd_schema.h), the
// file `etcdctl snapshot save` expects from Maintenance.Snapshot, so that
// `etcdctl snapshot status|restore` and a real etcd read raftkv's backups.
//
// What the file holds: in `key`, what a reader of the store can still see,
// which is also exactly what etcd keeps after a compaction at the same
// revision: every version above the compact revision (puts and tombstones,
// from the change log), plus each key's newest version at or below it when
// that is not a tombstone (from the history, however far raftkv's physical
// compaction has got); `meta` carries the applied index as the consistent
// index and the compact revision as both scheduledCompactRev and
// finishedCompactRev, so etcd refuses the same old revisions; `lease` the
// leases with their checkpointed remaining TTLs; `members` the member list;
// `cluster` the 3.4 cluster version; `auth` what etcd writes while auth has
// never been enabled (raftkv has no auth yet, so `authUsers`/`authRoles` and
// `alarm` are empty).
//
// Memory stays bounded for any store size: everything is streamed from one
// LevelDB snapshot into the bbolt writer, and the survivors of compaction
// (which live in key order in the history) are put in revision order
// through a scratch LevelDB next to the output file.
#ifndef RAFTKV_KV_BACKUP_ETCD_EXPORT_H_
#define RAFTKV_KV_BACKUP_ETCD_EXPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "kv/read_view.h"
#include "kv/requestpb.pb.h"

namespace raftkv::kv::backup {

struct ExportStats {
  int64_t revision = 0;          // the store's revision in the copy
  int64_t compact_revision = 0;  // 0 if never compacted
  uint64_t consistent_index = 0;
  int64_t key_entries = 0;  // pairs written to the `key` bucket
  int64_t lease_entries = 0;
};

// Writes the store seen by `view` (a raw snapshot of an MvccStore's
// LevelDB: MvccStore::RawSnapshot()) and `members` to a new bbolt file at
// `path`, replacing it. Uses `path` + ".sort" as scratch space (removed
// before returning). On error the output file is incomplete: the caller
// deletes it. Errors: DataLoss for a malformed store entry (naming it),
// Internal for I/O.
absl::StatusOr<ExportStats> ExportEtcdSnapshot(const ReadView& view,
                                               const kvpb::MemberList& members,
                                               const std::string& path);

}  // namespace raftkv::kv::backup

#endif  // RAFTKV_KV_BACKUP_ETCD_EXPORT_H_
