// etcd 3.4's backend schema: the bucket names, key encodings and value
// encodings of the bbolt database that etcd keeps in member/snap/db and that
// `etcdctl snapshot save` writes. Both directions of raftkv's backup
// (etcd_export.h, etcd_import.h) speak it through these helpers only.
//
// The schema, from etcd 3.4's source:
//   key      BE64(main) '_' BE64(sub) [+ 't' for a tombstone]
//              -> marshalled mvccpb.KeyValue (a tombstone's holds only the
//                 key) (mvcc/revision.go, mvcc/kvstore_txn.go)
//   meta     "consistent_index" -> BE64; "scheduledCompactRev" and
//              "finishedCompactRev" -> the 17-byte revision (main, sub 0)
//              (mvcc/kvstore.go, mvcc/kvstore_compaction.go)
//   lease    BE64(id) -> marshalled leasepb.Lease {ID=1, TTL=2,
//              RemainingTTL=3} (lease/lessor.go, lease/leasepb)
//   members  member ID in lowercase hex -> JSON of membership.Member:
//              {"id":<decimal>,"peerURLs":[..],"isLearner":true?,
//               "name":..?,"clientURLs":[..]?} (omitempty as in member.go)
//   members_removed  hex ID -> "removed"
//   cluster  "clusterVersion" -> "3.4.0"
//   auth     "authRevision" -> BE64 (1 on a store where auth never ran);
//              "authEnabled" -> {1} or {0} once auth was toggled
//   alarm, authUsers, authRoles: marshalled protos (empty here until raftkv
//              has alarms and auth).
#ifndef RAFTKV_KV_BACKUP_ETCD_SCHEMA_H_
#define RAFTKV_KV_BACKUP_ETCD_SCHEMA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kv/requestpb.pb.h"

namespace raftkv::kv::backup {

inline constexpr std::string_view kAlarmBucket = "alarm";
inline constexpr std::string_view kAuthBucket = "auth";
inline constexpr std::string_view kAuthRolesBucket = "authRoles";
inline constexpr std::string_view kAuthUsersBucket = "authUsers";
inline constexpr std::string_view kClusterBucket = "cluster";
inline constexpr std::string_view kKeyBucket = "key";
inline constexpr std::string_view kLeaseBucket = "lease";
inline constexpr std::string_view kMembersBucket = "members";
inline constexpr std::string_view kMembersRemovedBucket = "members_removed";
inline constexpr std::string_view kMetaBucket = "meta";

inline constexpr std::string_view kConsistentIndexKey = "consistent_index";
inline constexpr std::string_view kFinishedCompactKey = "finishedCompactRev";
inline constexpr std::string_view kScheduledCompactKey = "scheduledCompactRev";
inline constexpr std::string_view kClusterVersionKey = "clusterVersion";
// The cluster version raftkv claims (DESIGN.md: the 3.4 API level).
inline constexpr std::string_view kClusterVersion = "3.4.0";
inline constexpr std::string_view kAuthRevisionKey = "authRevision";

// A key-bucket key.
struct Revision {
  int64_t main = 0;
  int64_t sub = 0;
  bool tombstone = false;
};
// 17 bytes, or 18 with the tombstone mark.
std::string EncodeRevision(const Revision& rev);
// Nullopt unless `raw` is 17 bytes with '_' at 8, or 18 ending in 't'.
std::optional<Revision> DecodeRevision(std::string_view raw);

std::string BigEndian64(uint64_t v);

// leasepb.Lease <-> raftkv's lease record (same three fields).
std::string EncodeLease(const kvpb::LeaseRecord& lease);
std::optional<kvpb::LeaseRecord> DecodeLease(std::string_view raw);

// The members bucket's key and value for `m`, exactly as etcd's
// encoding/json writes them.
std::string MemberKey(uint64_t id);
std::string MemberJson(const kvpb::Member& m);

}  // namespace raftkv::kv::backup

#endif  // RAFTKV_KV_BACKUP_ETCD_SCHEMA_H_
