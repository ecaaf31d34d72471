#include "kv/backup/etcd_import.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "kv/backup/etcd_schema.h"
#include "kv/bbolt/bbolt.h"
#include "kv/key_layout.h"
#include "kv/mvcc_store.h"
#include "kv/mvccpb.pb.h"
#include "kv/status_macros.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"

namespace raftkv::kv::backup {
namespace {

constexpr size_t kBatchBytes = 1 << 20;

absl::Status FromLevelDb(const leveldb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("restore: ", std::string(what), ": ", s.ToString()));
}

// Writes batches of about kBatchBytes.
class BatchWriter {
 public:
  explicit BatchWriter(leveldb::DB* db) : db_(db) {}
  leveldb::WriteBatch& batch() { return batch_; }
  absl::Status MaybeFlush() {
    if (batch_.ApproximateSize() < kBatchBytes) return absl::OkStatus();
    return Flush(false);
  }
  absl::Status Flush(bool sync) {
    leveldb::WriteOptions options;
    options.sync = sync;
    RAFTKV_RETURN_IF_NOT_OK(FromLevelDb(db_->Write(options, &batch_), "write"));
    batch_.Clear();
    return absl::OkStatus();
  }

 private:
  leveldb::DB* const db_;
  leveldb::WriteBatch batch_;
};

// The compact revision etcd itself would resume with (mvcc/kvstore.go
// restore: a scheduled compaction above the finished one is redone).
absl::StatusOr<int64_t> ReadCompact(bbolt::Reader& reader) {
  int64_t finished = 0, scheduled = 0;
  absl::Status s =
      reader.ForEach(kMetaBucket, [&](std::string_view k, std::string_view v) {
        if (k != kFinishedCompactKey && k != kScheduledCompactKey) {
          return absl::OkStatus();
        }
        std::optional<Revision> rev = DecodeRevision(v);
        if (!rev.has_value()) {
          return absl::DataLossError(
              absl::StrCat("restore: bad meta entry ", std::string(k)));
        }
        (k == kFinishedCompactKey ? finished : scheduled) = rev->main;
        return absl::OkStatus();
      });
  if (absl::IsNotFound(s)) return 0;
  if (!s.ok()) return s;
  return std::max(finished, scheduled);
}

absl::Status ImportKeys(bbolt::Reader& reader, leveldb::DB* db,
                        ImportStats* stats) {
  BatchWriter out(db);
  absl::Status s = reader.ForEach(
      kKeyBucket, [&](std::string_view k, std::string_view v) -> absl::Status {
        std::optional<Revision> rev = DecodeRevision(k);
        mvccpb::KeyValue kv;
        if (!rev.has_value() ||
            !kv.ParseFromArray(v.data(), static_cast<int>(v.size())) ||
            kv.key().empty()) {
          return absl::DataLossError(
              absl::StrCat("restore: bad entry in bucket key at entry ",
                           stats->key_entries));
        }
        leveldb::WriteBatch& b = out.batch();
        const std::string history =
            layout::HistoryKey(kv.key(), rev->main, rev->sub);
        if (rev->tombstone) {
          b.Put(history, std::string(1, layout::kTombstoneTag));
          b.Delete(layout::CurrentKey(kv.key()));
        } else {
          std::string value(1, layout::kPutTag);
          value.append(v);
          b.Put(history, value);
          b.Put(layout::CurrentKey(kv.key()),
                layout::EncodeMeta({kv.create_revision(), kv.mod_revision(),
                                    kv.version(), kv.lease()}));
        }
        b.Put(layout::ChangeKey(rev->main, rev->sub), kv.key());
        stats->revision = std::max(stats->revision, rev->main);
        ++stats->key_entries;
        return out.MaybeFlush();
      });
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  return out.Flush(false);
}

absl::Status ImportLeases(bbolt::Reader& reader, leveldb::DB* db,
                          ImportStats* stats) {
  BatchWriter out(db);
  absl::Status s = reader.ForEach(
      kLeaseBucket, [&](std::string_view, std::string_view v) -> absl::Status {
        std::optional<kvpb::LeaseRecord> lease = DecodeLease(v);
        if (!lease.has_value()) {
          return absl::DataLossError(absl::StrCat(
              "restore: bad entry in bucket lease at entry ", stats->leases));
        }
        out.batch().Put(layout::LeaseKey(lease->id()),
                        lease->SerializeAsString());
        ++stats->leases;
        return out.MaybeFlush();
      });
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  return out.Flush(false);
}

// Attaches every live key to its lease (the "L" index a revoke reads).
absl::Status AttachLeases(leveldb::DB* db) {
  BatchWriter out(db);
  std::unique_ptr<leveldb::Iterator> it(
      db->NewIterator(leveldb::ReadOptions()));
  const std::string prefix(1, layout::kCurrentTag);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    std::optional<layout::KeyMeta> meta = layout::DecodeMeta(
        std::string_view(it->value().data(), it->value().size()));
    if (!meta.has_value()) return absl::DataLossError("restore: bad key meta");
    if (meta->lease == 0) continue;
    const std::string_view key(it->key().data() + 1, it->key().size() - 1);
    out.batch().Put(layout::LeaseKeyIndexKey(meta->lease, key), "");
    RAFTKV_RETURN_IF_NOT_OK(out.MaybeFlush());
  }
  RAFTKV_RETURN_IF_NOT_OK(FromLevelDb(it->status(), "read keys"));
  return out.Flush(false);
}

absl::Status WriteMeta(leveldb::DB* db, const ImportStats& stats) {
  leveldb::WriteBatch b;
  const int64_t revision =
      std::max<int64_t>({stats.revision, stats.compact_revision, 1});
  b.Put(layout::kRevisionKey.data(), layout::EncodeFixed64(revision));
  b.Put(layout::kCompactKey.data(),
        layout::EncodeFixed64(stats.compact_revision));
  b.Put(layout::kAppliedIndexKey.data(), layout::EncodeFixed64(0));
  // Physical compaction has not run on this copy: the store does it next.
  b.Put(layout::kCompactedThroughKey.data(), layout::EncodeFixed64(0));
  b.Put(layout::kCompactCursorKey.data(), layout::ChangeKey(0, 0));
  leveldb::WriteOptions sync;
  sync.sync = true;
  return FromLevelDb(db->Write(sync, &b), "write meta");
}

absl::StatusOr<ImportStats> WriteStore(bbolt::Reader& reader,
                                       const std::string& store_dir) {
  ImportStats stats;
  absl::StatusOr<int64_t> compact = ReadCompact(reader);
  if (!compact.ok()) return compact.status();
  stats.compact_revision = *compact;
  leveldb::Options options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  leveldb::DB* raw = nullptr;
  RAFTKV_RETURN_IF_NOT_OK(FromLevelDb(
      leveldb::DB::Open(options, store_dir, &raw), "create " + store_dir));
  std::unique_ptr<leveldb::DB> db(raw);
  RAFTKV_RETURN_IF_NOT_OK(ImportKeys(reader, db.get(), &stats));
  RAFTKV_RETURN_IF_NOT_OK(ImportLeases(reader, db.get(), &stats));
  RAFTKV_RETURN_IF_NOT_OK(AttachLeases(db.get()));
  RAFTKV_RETURN_IF_NOT_OK(WriteMeta(db.get(), stats));
  return stats;
}

}  // namespace

absl::StatusOr<ImportStats> ImportEtcdSnapshot(const std::string& db_path,
                                               uint64_t size,
                                               const std::string& store_dir) {
  std::error_code ec;
  if (std::filesystem::exists(store_dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("restore: ", store_dir, " exists"));
  }
  absl::StatusOr<std::unique_ptr<bbolt::Reader>> reader =
      bbolt::Reader::Open(db_path, size);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<ImportStats> stats = WriteStore(**reader, store_dir);
  if (!stats.ok()) return stats.status();
  // The file may hold versions below its compact revision (a compaction
  // still in progress in etcd): raftkv's own compaction drops them, so the
  // store ends exactly as raftkv would have it.
  absl::StatusOr<std::unique_ptr<MvccStore>> store =
      MvccStore::Open(store_dir, MvccOptions());
  if (!store.ok()) return store.status();
  for (;;) {
    absl::StatusOr<bool> done = (*store)->CompactStep(10000);
    if (!done.ok()) return done.status();
    if (*done) break;
  }
  absl::StatusOr<uint64_t> synced = (*store)->Sync();
  if (!synced.ok()) return synced.status();
  return stats;
}

}  // namespace raftkv::kv::backup
