// The snapshot stream: a point-in-time copy of the whole state machine (the
// store's raw LevelDB contents plus the member list), sent to a follower
// that is too far behind to catch up from the log.
//
// Stream format (persistent only while in flight): a sequence of records
// [key length u32 LE][key][value length u32 LE][value], read from the source
// in chunks of about kChunkBytes at record boundaries. The transport may cut
// the stream anywhere (rpc/peer sends pieces of at most 1 MiB), so the sink
// parses records across pieces. The first record carries the
// member list under kMembersKey; every other record is one LevelDB pair,
// meta keys (revision, applied index) included, so the copy restores
// exactly the leader's state at the moment the copy was taken.
#ifndef RAFTKV_KV_SNAPSHOT_COPY_H_
#define RAFTKV_KV_SNAPSHOT_COPY_H_

#include <memory>
#include <string>

#include "kv/members.h"
#include "kv/mvcc_store.h"
#include "leveldb/db.h"
#include "raft/transport.h"

namespace raftkv::kv {

inline constexpr size_t kChunkBytes = 1 << 20;
// Not a valid store key: every layout key starts with a printable prefix.
inline constexpr char kMembersKey[] =
    "\xff\xff"
    "raftkv-members";

// Reads `store` at one LevelDB snapshot. Keeps the store alive.
std::unique_ptr<raft::SnapshotSource> NewSnapshotSource(
    std::shared_ptr<MvccStore> store, const kvpb::MemberList& members);

// Writes a received copy into a new LevelDB at `dir` (replacing anything
// there) and the member list into `members_path`. Finish() syncs both.
absl::StatusOr<std::unique_ptr<raft::SnapshotSink>> NewSnapshotSink(
    const std::string& dir, const std::string& members_path);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_SNAPSHOT_COPY_H_
