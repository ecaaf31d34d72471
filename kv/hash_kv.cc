// MvccStore::HashKV: the checksum members compare to prove they hold the
// same data (etcd's HashKV, Maintenance.Hash and the initial corrupt check).
//
// Which versions count is etcd's rule: every version with
// compact < revision <= rev, and, for each key with no version in that
// range, its newest version at or below the compact revision if that is a
// put (what a read at `rev` can still see of the compacted past). The
// history is walked in key order (key_layout.h: per key, revisions
// descending), so the value is not numerically etcd's, which walks bbolt in
// revision order; it covers the same set. It is computed from the logical
// history only: versions that physical compaction has not yet removed are
// skipped exactly as if it had, so two members agree however far their
// compactors have got.
#include <zlib.h>

#include "absl/strings/str_cat.h"
#include "kv/errors.h"
#include "kv/mvcc_store.h"

namespace raftkv::kv {
namespace {

// CRC-32 (zlib's) over a stream of length-prefixed fields, so that
// ("ab","c") and ("a","bc") differ.
class Checksum {
 public:
  void Field(std::string_view bytes) {
    const std::string len = layout::EncodeFixed64(bytes.size());
    Raw(len);
    Raw(bytes);
  }
  uint32_t value() const { return static_cast<uint32_t>(crc_); }

 private:
  void Raw(std::string_view bytes) {
    crc_ = crc32(crc_, reinterpret_cast<const Bytef*>(bytes.data()),
                 static_cast<uInt>(bytes.size()));
  }
  uLong crc_ = crc32(0L, Z_NULL, 0);
};

std::string_view View(const leveldb::Slice& s) { return {s.data(), s.size()}; }

}  // namespace

absl::StatusOr<MvccStore::HashKvResult> MvccStore::HashKV(int64_t rev) const {
  Revisions revisions;
  std::unique_ptr<SnapshotView> view = Snapshot(&revisions);
  HashKvResult result;
  result.revision = revisions.current;
  result.compact_revision = revisions.compact;
  if (rev > 0 && rev <= revisions.compact) return CompactedError();
  if (rev > revisions.current) return FutureRevError();
  if (rev <= 0) rev = revisions.current;
  result.hash_revision = rev;

  Checksum sum;
  std::unique_ptr<leveldb::Iterator> it = view->NewIterator();
  const std::string first(1, layout::kHistoryTag);
  std::string current_key;
  bool seen_in_range = false;  // a version of current_key in (compact, rev]
  it->Seek(first);
  while (it->Valid() && !it->key().empty() &&
         it->key()[0] == layout::kHistoryTag) {
    std::optional<layout::HistoryKeyParts> parts =
        layout::ParseHistoryKey(View(it->key()));
    if (!parts.has_value()) {
      return absl::DataLossError(
          absl::StrCat("raftkv: malformed history key in the store (",
                       it->key().size(), " bytes) while hashing"));
    }
    if (parts->key != current_key) {
      current_key = parts->key;
      seen_in_range = false;
    }
    if (parts->main > rev) {
      it->Next();
      continue;
    }
    const std::string_view value = View(it->value());
    const bool put = !value.empty() && value[0] == layout::kPutTag;
    const bool in_range = parts->main > revisions.compact;
    if (in_range || (!seen_in_range && put)) {
      sum.Field(parts->key);
      sum.Field(layout::EncodeFixed64(static_cast<uint64_t>(parts->main)));
      sum.Field(layout::EncodeFixed64(static_cast<uint64_t>(parts->sub)));
      sum.Field(value);
    }
    if (in_range) {
      seen_in_range = true;
      it->Next();
      continue;
    }
    // Older versions of this key are compacted away (or soon will be).
    it->Seek(layout::HistoryPastKey(parts->key));
  }
  if (!it->status().ok()) {
    return absl::UnavailableError(absl::StrCat(
        "kv: leveldb read while hashing: ", it->status().ToString()));
  }
  result.hash = sum.value();
  return result;
}

}  // namespace raftkv::kv
