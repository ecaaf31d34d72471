// Reads of etcd's data model at a revision, over any ReadView: the engine
// behind MvccStore::Range, txn compares, prev_kv lookups and DeleteRange.
//
// Cost model (what ReadStats counts): a read at the view's current revision
// walks the small current-state entries of the keys in the range and decodes
// a full value only for the keys it returns; a read at an older revision
// does one Seek per key in the range in the history. So a Range with `limit`
// and no sort/filter decodes at most limit+1 values, and its index work is
// proportional to the number of keys in the range (etcd's `count` needs
// that), never to the size of the store. Sorting or min/max filters make it
// decode the whole range first, as etcd does.
#ifndef RAFTKV_KV_RANGE_READER_H_
#define RAFTKV_KV_RANGE_READER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "kv/key_layout.h"
#include "kv/kvpb.pb.h"
#include "kv/mvccpb.pb.h"
#include "kv/read_view.h"

namespace raftkv::kv {

// [start, end) in raw key order. An absent `end` means "to the last key".
struct KeyRange {
  std::string start;
  std::optional<std::string> end;

  // Applies etcd's conventions: empty range_end is the single key `key`;
  // "\0" is every key >= key (so key == range_end == "\0" is all keys).
  static KeyRange FromRequest(std::string_view key, std::string_view range_end);
  bool Contains(std::string_view key) const {
    return key >= start && (!end.has_value() || key < *end);
  }
};

// What a read runs against.
struct ReadContext {
  const ReadView* view = nullptr;
  // The view's latest revision and compacted revision.
  int64_t current_rev = 1;
  int64_t compact_rev = 0;
  // Optional counters; may be null.
  ReadStats* stats = nullptr;
};

enum class ScanAction { kLoad, kCountOnly, kStop };

// Visits, in key order, every key live at revision `rev` within `range`.
// For each, `decide(key)` chooses whether to decode its KeyValue (handed to
// `sink`), only count it, or stop the scan.
// REQUIRES: ctx.compact_rev <= rev <= ctx.current_rev.
absl::Status ScanLiveKeys(
    const ReadContext& ctx, int64_t rev, const KeyRange& range,
    absl::FunctionRef<ScanAction(std::string_view key)> decide,
    absl::FunctionRef<void(mvccpb::KeyValue kv)> sink);

// Every key-value live at the current revision in `range`, in key order.
absl::StatusOr<std::vector<mvccpb::KeyValue>> LatestKeyValues(
    const ReadContext& ctx, const KeyRange& range);

// The current-state entry of `key`, nullopt if the key does not exist.
absl::StatusOr<std::optional<layout::KeyMeta>> LatestMeta(
    const ReadContext& ctx, std::string_view key);

// etcd's Range on a view: revision checks (future/compacted), limit + more,
// count before limit and filters, count_only, keys_only, sort, filters.
// header.revision is ctx.current_rev. Does not validate the key (see
// validate.h).
absl::StatusOr<etcdserverpb::RangeResponse> ExecuteRange(
    const ReadContext& ctx, const etcdserverpb::RangeRequest& req);

// Decodes a history value ('P' + KeyValue). Returns nullopt for a tombstone;
// a DataLoss error for a malformed value.
absl::StatusOr<std::optional<mvccpb::KeyValue>> DecodeHistoryValue(
    std::string_view raw);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_RANGE_READER_H_
