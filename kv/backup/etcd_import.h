// The restore half of raftkv's etcd compatibility: builds raftkv's store
// (kv/key_layout.h) from a bbolt database in etcd 3.4's schema
// (etcd_schema.h) — a file of `etcdctl snapshot save`, taken from etcd or
// from raftkv — at the very revisions the file holds.
//
// The `key` bucket is read in revision order and each version becomes a
// history entry, a change-log entry and the key's current-state entry; the
// compact revision (meta's finishedCompactRev, or scheduledCompactRev when
// that compaction had not finished) becomes the store's, and raftkv's own
// physical compaction then drops whatever the file still held below it, so
// the store is exactly what raftkv would hold after that compaction. Leases
// come from `lease` (with their remaining TTLs), and keys are attached to
// their leases. The store's applied index is 0: the restored member starts a
// new Raft log (as etcdctl sets the consistent index to the new log's
// bootstrap entries); membership comes from the new --initial-cluster, not
// from the file. `auth*` and `alarm` are not read (raftkv has neither yet).
#ifndef RAFTKV_KV_BACKUP_ETCD_IMPORT_H_
#define RAFTKV_KV_BACKUP_ETCD_IMPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace raftkv::kv::backup {

struct ImportStats {
  int64_t revision = 0;
  int64_t compact_revision = 0;
  int64_t key_entries = 0;
  int64_t leases = 0;
};

// Reads the first `size` bytes of `db_path` (0: all of it) as a bbolt file
// and writes a new MvccStore at `store_dir`, which must not exist.
// Errors: DataLoss naming the malformed entry, FailedPrecondition if
// `store_dir` exists, Internal for I/O.
absl::StatusOr<ImportStats> ImportEtcdSnapshot(const std::string& db_path,
                                               uint64_t size,
                                               const std::string& store_dir);

}  // namespace raftkv::kv::backup

#endif  // RAFTKV_KV_BACKUP_ETCD_IMPORT_H_
