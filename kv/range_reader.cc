#include "kv/range_reader.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "kv/errors.h"
#include "kv/status_macros.h"

namespace raftkv::kv {
namespace {

using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using mvccpb::KeyValue;

absl::Status IteratorStatus(const leveldb::Iterator& it) {
  leveldb::Status s = it.status();
  if (s.ok()) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("kv: leveldb read: ", s.ToString()));
}

void CountStep(const ReadContext& ctx) {
  if (ctx.stats != nullptr) ++ctx.stats->index_steps;
}

bool HasTag(const leveldb::Slice& s, char tag) {
  return s.size() > 0 && s[0] == tag;
}

std::string_view View(const leveldb::Slice& s) {
  return std::string_view(s.data(), s.size());
}

// The value of `key`'s newest history entry at or below `rev`, if that entry
// belongs to `key`.
std::optional<std::string> SeekVersion(leveldb::Iterator* it,
                                       std::string_view key, int64_t rev) {
  it->Seek(layout::HistorySeekKey(key, rev));
  if (!it->Valid()) return std::nullopt;
  std::optional<layout::HistoryKeyParts> parts =
      layout::ParseHistoryKey(View(it->key()));
  if (!parts.has_value() || parts->key != key) return std::nullopt;
  return it->value().ToString();
}

// Loads the put that `key`'s current-state entry points at.
absl::StatusOr<KeyValue> LoadLatest(const ReadContext& ctx,
                                    leveldb::Iterator* it, std::string_view key,
                                    int64_t mod_rev) {
  CountStep(ctx);
  std::optional<std::string> raw = SeekVersion(it, key, mod_rev);
  if (!raw.has_value()) {
    RAFTKV_RETURN_IF_NOT_OK(IteratorStatus(*it));
    return absl::DataLossError(absl::StrCat(
        "kv: current index names a missing version: key=", std::string(key),
        " mod_revision=", mod_rev));
  }
  absl::StatusOr<std::optional<KeyValue>> kv = DecodeHistoryValue(*raw);
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) {
    return absl::DataLossError(absl::StrCat(
        "kv: current index names a tombstone: key=", std::string(key)));
  }
  if (ctx.stats != nullptr) ++ctx.stats->values_decoded;
  return std::move(**kv);
}

// Latest-revision scan over the current-state index.
absl::Status ScanCurrent(const ReadContext& ctx, const KeyRange& range,
                         absl::FunctionRef<ScanAction(std::string_view)> decide,
                         absl::FunctionRef<void(KeyValue)> sink) {
  std::unique_ptr<leveldb::Iterator> it = ctx.view->NewIterator();
  std::unique_ptr<leveldb::Iterator> values;
  CountStep(ctx);
  for (it->Seek(layout::CurrentKey(range.start)); it->Valid();
       it->Next(), CountStep(ctx)) {
    if (!HasTag(it->key(), layout::kCurrentTag)) break;
    std::string_view key = View(it->key()).substr(1);
    if (!range.Contains(key)) break;
    ScanAction action = decide(key);
    if (action == ScanAction::kStop) break;
    if (action == ScanAction::kCountOnly) continue;
    std::optional<layout::KeyMeta> meta = layout::DecodeMeta(View(it->value()));
    if (!meta.has_value()) {
      return absl::DataLossError(
          absl::StrCat("kv: bad current entry: ", std::string(key)));
    }
    if (values == nullptr) values = ctx.view->NewIterator();
    absl::StatusOr<KeyValue> kv =
        LoadLatest(ctx, values.get(), key, meta->mod_revision);
    if (!kv.ok()) return kv.status();
    sink(*std::move(kv));
  }
  return IteratorStatus(*it);
}

// Scan at an older revision over the history: one Seek per key.
absl::Status ScanHistory(const ReadContext& ctx, int64_t rev,
                         const KeyRange& range,
                         absl::FunctionRef<ScanAction(std::string_view)> decide,
                         absl::FunctionRef<void(KeyValue)> sink) {
  std::unique_ptr<leveldb::Iterator> it = ctx.view->NewIterator();
  CountStep(ctx);
  it->Seek(layout::HistoryLowerBound(range.start));
  while (it->Valid() && HasTag(it->key(), layout::kHistoryTag)) {
    std::optional<layout::HistoryKeyParts> parts =
        layout::ParseHistoryKey(View(it->key()));
    if (!parts.has_value()) {
      return absl::DataLossError("kv: malformed history key");
    }
    if (!range.Contains(parts->key)) break;
    if (parts->main > rev) {
      // Newer than the read: jump to this key's newest version <= rev (or to
      // the next key, if it has none).
      CountStep(ctx);
      it->Seek(layout::HistorySeekKey(parts->key, rev));
      continue;
    }
    leveldb::Slice value = it->value();
    bool live = value.size() > 0 && value[0] == layout::kPutTag;
    if (live) {
      ScanAction action = decide(parts->key);
      if (action == ScanAction::kStop) break;
      if (action == ScanAction::kLoad) {
        absl::StatusOr<std::optional<KeyValue>> kv =
            DecodeHistoryValue(View(value));
        if (!kv.ok()) return kv.status();
        if (ctx.stats != nullptr) ++ctx.stats->values_decoded;
        sink(std::move(**kv));
      }
    }
    CountStep(ctx);
    it->Seek(layout::HistoryPastKey(parts->key));
  }
  return IteratorStatus(*it);
}

// etcd's sort: by the target, ties keep key order (our sort is stable; etcd's
// is not, so ties are unspecified there).
void SortKvs(std::vector<KeyValue>* kvs, RangeRequest::SortTarget target,
             bool descend) {
  auto key_of = [target](const KeyValue& kv) {
    switch (target) {
      case RangeRequest::VERSION:
        return std::make_pair(kv.version(), std::string_view());
      case RangeRequest::CREATE:
        return std::make_pair(kv.create_revision(), std::string_view());
      case RangeRequest::MOD:
        return std::make_pair(kv.mod_revision(), std::string_view());
      case RangeRequest::VALUE:
        return std::make_pair(int64_t{0}, std::string_view(kv.value()));
      default:
        return std::make_pair(int64_t{0}, std::string_view(kv.key()));
    }
  };
  std::stable_sort(
      kvs->begin(), kvs->end(), [&](const KeyValue& a, const KeyValue& b) {
        return descend ? key_of(b) < key_of(a) : key_of(a) < key_of(b);
      });
}

bool HasRevisionFilter(const RangeRequest& req) {
  return req.min_mod_revision() != 0 || req.max_mod_revision() != 0 ||
         req.min_create_revision() != 0 || req.max_create_revision() != 0;
}

bool FilteredOut(const RangeRequest& req, const KeyValue& kv) {
  return (req.max_mod_revision() != 0 &&
          kv.mod_revision() > req.max_mod_revision()) ||
         (req.min_mod_revision() != 0 &&
          kv.mod_revision() < req.min_mod_revision()) ||
         (req.max_create_revision() != 0 &&
          kv.create_revision() > req.max_create_revision()) ||
         (req.min_create_revision() != 0 &&
          kv.create_revision() < req.min_create_revision());
}

}  // namespace

KeyRange KeyRange::FromRequest(std::string_view key,
                               std::string_view range_end) {
  KeyRange range;
  range.start = std::string(key);
  if (range_end.empty()) {
    range.end = std::string(key) + '\0';
  } else if (range_end != std::string_view("\0", 1)) {
    range.end = std::string(range_end);
  }
  return range;
}

absl::StatusOr<std::optional<KeyValue>> DecodeHistoryValue(
    std::string_view raw) {
  if (raw.size() == 1 && raw[0] == layout::kTombstoneTag) return std::nullopt;
  KeyValue kv;
  if (raw.empty() || raw[0] != layout::kPutTag ||
      !kv.ParseFromArray(raw.data() + 1, static_cast<int>(raw.size() - 1))) {
    return absl::DataLossError("kv: malformed history value");
  }
  return kv;
}

absl::Status ScanLiveKeys(
    const ReadContext& ctx, int64_t rev, const KeyRange& range,
    absl::FunctionRef<ScanAction(std::string_view)> decide,
    absl::FunctionRef<void(KeyValue)> sink) {
  if (range.end.has_value() && *range.end <= range.start) {
    return absl::OkStatus();
  }
  if (rev == ctx.current_rev) return ScanCurrent(ctx, range, decide, sink);
  return ScanHistory(ctx, rev, range, decide, sink);
}

absl::StatusOr<std::vector<KeyValue>> LatestKeyValues(const ReadContext& ctx,
                                                      const KeyRange& range) {
  std::vector<KeyValue> kvs;
  absl::Status s = ScanLiveKeys(
      ctx, ctx.current_rev, range,
      [](std::string_view) { return ScanAction::kLoad; },
      [&kvs](KeyValue kv) { kvs.push_back(std::move(kv)); });
  if (!s.ok()) return s;
  return kvs;
}

absl::StatusOr<std::optional<layout::KeyMeta>> LatestMeta(
    const ReadContext& ctx, std::string_view key) {
  CountStep(ctx);
  absl::StatusOr<std::optional<std::string>> raw =
      ctx.view->Get(layout::CurrentKey(key));
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::nullopt;
  std::optional<layout::KeyMeta> meta = layout::DecodeMeta(**raw);
  if (!meta.has_value()) {
    return absl::DataLossError(
        absl::StrCat("kv: bad current entry: ", std::string(key)));
  }
  return meta;
}

absl::StatusOr<RangeResponse> ExecuteRange(const ReadContext& ctx,
                                           const RangeRequest& req) {
  int64_t rev = req.revision() <= 0 ? ctx.current_rev : req.revision();
  if (rev > ctx.current_rev) return FutureRevError();
  if (rev < ctx.compact_rev) return CompactedError();

  // As etcd: sorting (by order, not target) or filtering needs the whole
  // range; otherwise fetch one extra key to learn `more`.
  bool read_all =
      req.sort_order() != RangeRequest::NONE || HasRevisionFilter(req);
  // A limit of INT64_MAX (a client's) must not overflow into a negative one.
  int64_t fetch_limit =
      (read_all || req.limit() <= 0)
          ? 0
          : (req.limit() == INT64_MAX ? INT64_MAX : req.limit() + 1);

  RangeResponse resp;
  int64_t count = 0;
  std::vector<KeyValue> kvs;
  absl::Status s = ScanLiveKeys(
      ctx, rev, KeyRange::FromRequest(req.key(), req.range_end()),
      [&](std::string_view) {
        ++count;
        if (req.count_only()) return ScanAction::kCountOnly;
        if (fetch_limit > 0 &&
            static_cast<int64_t>(kvs.size()) >= fetch_limit) {
          return ScanAction::kCountOnly;
        }
        return ScanAction::kLoad;
      },
      [&](KeyValue kv) { kvs.push_back(std::move(kv)); });
  if (!s.ok()) return s;

  if (HasRevisionFilter(req)) {
    kvs.erase(std::remove_if(
                  kvs.begin(), kvs.end(),
                  [&](const KeyValue& kv) { return FilteredOut(req, kv); }),
              kvs.end());
  }
  RangeRequest::SortOrder order = req.sort_order();
  if (req.sort_target() != RangeRequest::KEY && order == RangeRequest::NONE) {
    order = RangeRequest::ASCEND;
  }
  if (order != RangeRequest::NONE) {
    SortKvs(&kvs, req.sort_target(), order == RangeRequest::DESCEND);
  }
  if (req.limit() > 0 && static_cast<int64_t>(kvs.size()) > req.limit()) {
    kvs.resize(req.limit());
    resp.set_more(true);
  }
  for (KeyValue& kv : kvs) {
    if (req.keys_only()) kv.clear_value();
    *resp.add_kvs() = std::move(kv);
  }
  resp.set_count(count);
  resp.mutable_header()->set_revision(ctx.current_rev);
  return resp;
}

}  // namespace raftkv::kv
