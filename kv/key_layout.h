// The persistent format of the MVCC store: how etcd's data model maps onto
// LevelDB keys. Every LevelDB key starts with a one-byte namespace tag.
//
//   'c' + key                       -> KeyMeta (32 bytes, see below)
//       Current-state index: one entry per *live* key at the latest revision.
//       Deleting a key removes its entry. Latest-revision reads, counts and
//       Put's create_revision/version bookkeeping scan only these small
//       entries.
//   'k' + Escape(key) + "\x00\x01" + BigEndian64(~main) + BigEndian64(~sub)
//                                   -> 'P' + serialized mvccpb::KeyValue
//                                   |  'D'                 (a tombstone)
//       History: every version of every key, ordered by key and then by
//       revision *descending*, so "the key's state at revision R" is one Seek
//       to (key, R). Escape() maps 0x00 to 0x00 0xFF; the 0x00 0x01 terminator
//       is smaller than any escaped continuation, so the encoding sorts
//       exactly like the raw keys and no key is a prefix of another's
//       encoding.
//   'r' + BigEndian64(main) + BigEndian64(sub) -> key
//       Change log: the revision-ordered index of every change, pointing into
//       the history. Watchers read a backlog from any uncompacted revision
//       with one forward scan (MvccStore::ReadChanges).
//   'm' + name                      -> BigEndian64 value (but see cursor)
//       Metadata: "m/revision" (current revision), "m/compact" (compacted
//       revision), "m/compact_cursor" (a change-log key: the first entry not
//       yet examined by physical compaction), "m/compacted_through" (the
//       compact revision whose physical compaction finished), "m/applied_index"
//       (last applied Raft index).
//
// The sub revision is part of the history key because one txn may still
// change a key twice: etcd 3.4's duplicate check treats a delete whose
// range_end is "\0" as an empty interval, so "put b; delete [a, \0)" passes.
// Invariant: every batch that changes 'c'/'k'/'r' entries also writes
// "m/revision" and "m/applied_index" in the same leveldb::WriteBatch.
#ifndef RAFTKV_KV_KEY_LAYOUT_H_
#define RAFTKV_KV_KEY_LAYOUT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace raftkv::kv::layout {

inline constexpr char kCurrentTag = 'c';
inline constexpr char kHistoryTag = 'k';
inline constexpr char kChangeTag = 'r';
// "l" + BE64(lease id) -> kvpb::LeaseRecord
inline constexpr char kLeaseTag = 'l';
// "L" + BE64(lease id) + key -> "" for every live key attached to a lease,
// so that a revoke finds its keys without scanning the store.
inline constexpr char kLeaseKeyTag = 'L';
// "a" + BE64(alarm type) + BE64(member id) -> "" for every raised alarm
// (kv/alarms.h), written in the batch of the entry that raised it.
inline constexpr char kAlarmTag = 'a';

inline constexpr std::string_view kRevisionKey = "m/revision";
inline constexpr std::string_view kCompactKey = "m/compact";
inline constexpr std::string_view kCompactCursorKey = "m/compact_cursor";
inline constexpr std::string_view kAppliedIndexKey = "m/applied_index";
inline constexpr std::string_view kCompactedThroughKey = "m/compacted_through";

// The part of a key's state that lives in the current-state index.
struct KeyMeta {
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

std::string EncodeFixed64(uint64_t v);
// REQUIRES: in.size() >= 8. Reads the first 8 bytes.
uint64_t DecodeFixed64(std::string_view in);

std::string CurrentKey(std::string_view key);
std::string EncodeMeta(const KeyMeta& meta);
// Returns nullopt if `in` is not a valid encoding (corruption).
std::optional<KeyMeta> DecodeMeta(std::string_view in);

// The smallest history key of `key` (and of any key >= `key`).
std::string HistoryLowerBound(std::string_view key);
// The history key of `key` written at revision (main, sub).
std::string HistoryKey(std::string_view key, int64_t main, int64_t sub);
// Seeking to this lands on the key's newest version with main revision
// <= rev (or on a later key).
std::string HistorySeekKey(std::string_view key, int64_t rev);
// A key greater than every history key of `key` and smaller than those of
// any larger key.
std::string HistoryPastKey(std::string_view key);
// Splits a history key into user key and revision; nullopt if malformed.
struct HistoryKeyParts {
  std::string key;
  int64_t main = 0;
  int64_t sub = 0;
};
std::optional<HistoryKeyParts> ParseHistoryKey(std::string_view raw);

inline constexpr char kPutTag = 'P';
inline constexpr char kTombstoneTag = 'D';

std::string LeaseKey(int64_t id);
std::string AlarmKey(int32_t alarm, uint64_t member_id);
std::string LeaseKeyIndexKey(int64_t id, std::string_view key);

std::string ChangeKey(int64_t main, int64_t sub);
struct ChangeKeyParts {
  int64_t main = 0;
  int64_t sub = 0;
};
std::optional<ChangeKeyParts> ParseChangeKey(std::string_view raw);

}  // namespace raftkv::kv::layout

#endif  // RAFTKV_KV_KEY_LAYOUT_H_
