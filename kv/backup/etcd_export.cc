#include "kv/backup/etcd_export.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kv/backup/etcd_schema.h"
#include "kv/bbolt/bbolt.h"
#include "kv/key_layout.h"
#include "kv/mvccpb.pb.h"
#include "kv/status_macros.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"

namespace raftkv::kv::backup {
namespace {

std::string_view View(const leveldb::Slice& s) {
  return std::string_view(s.data(), s.size());
}

absl::Status FromLevelDb(const leveldb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("backup: ", std::string(what), ": ", s.ToString()));
}

absl::StatusOr<int64_t> MetaValue(const ReadView& view, std::string_view name,
                                  int64_t missing) {
  absl::StatusOr<std::optional<std::string>> raw = view.Get(name);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return missing;
  if ((*raw)->size() != 8) {
    return absl::DataLossError(
        absl::StrCat("backup: bad meta entry ", std::string(name)));
  }
  return static_cast<int64_t>(layout::DecodeFixed64(**raw));
}

// A scratch LevelDB, destroyed with the object.
class ScratchDb {
 public:
  static absl::StatusOr<std::unique_ptr<ScratchDb>> Create(std::string dir) {
    leveldb::Options options;
    leveldb::DestroyDB(dir, options);
    options.create_if_missing = true;
    options.error_if_exists = true;
    leveldb::DB* raw = nullptr;
    RAFTKV_RETURN_IF_NOT_OK(FromLevelDb(leveldb::DB::Open(options, dir, &raw),
                                        "create scratch store " + dir));
    return std::unique_ptr<ScratchDb>(
        new ScratchDb(std::move(dir), std::unique_ptr<leveldb::DB>(raw)));
  }
  ~ScratchDb() {
    db_.reset();
    leveldb::DestroyDB(dir_, leveldb::Options());
  }
  leveldb::DB* db() { return db_.get(); }

 private:
  ScratchDb(std::string dir, std::unique_ptr<leveldb::DB> db)
      : dir_(std::move(dir)), db_(std::move(db)) {}
  std::string dir_;
  std::unique_ptr<leveldb::DB> db_;
};

// Collects, in revision order, each key's newest version at or below
// `compact` that is a put: what reads at the compact revision still see,
// and all etcd keeps of the history below it.
absl::Status SortSurvivors(const ReadView& view, int64_t compact,
                           leveldb::DB* out) {
  std::unique_ptr<leveldb::Iterator> it = view.NewIterator();
  const std::string prefix(1, layout::kHistoryTag);
  leveldb::WriteBatch batch;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);) {
    std::optional<layout::HistoryKeyParts> parts =
        layout::ParseHistoryKey(View(it->key()));
    if (!parts.has_value()) {
      return absl::DataLossError(absl::StrCat(
          "backup: malformed history key of ", it->key().size(), " bytes"));
    }
    const std::string key = parts->key;
    if (parts->main > compact) {
      it->Seek(layout::HistorySeekKey(key, compact));
      if (!it->Valid()) break;
      parts = layout::ParseHistoryKey(View(it->key()));
    }
    if (parts.has_value() && parts->key == key && parts->main <= compact &&
        it->value().size() > 0 && it->value()[0] == layout::kPutTag) {
      const std::string rev =
          BigEndian64(parts->main) + BigEndian64(parts->sub);
      batch.Put(rev,
                leveldb::Slice(it->value().data() + 1, it->value().size() - 1));
      if (batch.ApproximateSize() > (1 << 20)) {
        RAFTKV_RETURN_IF_NOT_OK(
            FromLevelDb(out->Write(leveldb::WriteOptions(), &batch), "sort"));
        batch.Clear();
      }
    }
    it->Seek(layout::HistoryPastKey(key));
  }
  RAFTKV_RETURN_IF_NOT_OK(FromLevelDb(it->status(), "read history"));
  return FromLevelDb(out->Write(leveldb::WriteOptions(), &batch), "sort");
}

// The `key` bucket: survivors of compaction, then the change log above it.
absl::Status WriteKeyBucket(const ReadView& view, int64_t compact,
                            const std::string& scratch_dir,
                            bbolt::Writer* writer, ExportStats* stats) {
  RAFTKV_RETURN_IF_NOT_OK(writer->BeginBucket(kKeyBucket));
  if (compact > 0) {
    absl::StatusOr<std::unique_ptr<ScratchDb>> scratch =
        ScratchDb::Create(scratch_dir);
    if (!scratch.ok()) return scratch.status();
    RAFTKV_RETURN_IF_NOT_OK(SortSurvivors(view, compact, (*scratch)->db()));
    std::unique_ptr<leveldb::Iterator> it(
        (*scratch)->db()->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view rev = View(it->key());
      Revision r{static_cast<int64_t>(layout::DecodeFixed64(rev)),
                 static_cast<int64_t>(layout::DecodeFixed64(rev.substr(8))),
                 false};
      RAFTKV_RETURN_IF_NOT_OK(
          writer->Put(EncodeRevision(r), View(it->value())));
      ++stats->key_entries;
    }
    RAFTKV_RETURN_IF_NOT_OK(FromLevelDb(it->status(), "read sorted"));
  }
  std::unique_ptr<leveldb::Iterator> it = view.NewIterator();
  for (it->Seek(layout::ChangeKey(compact + 1, 0)); it->Valid(); it->Next()) {
    std::optional<layout::ChangeKeyParts> change =
        layout::ParseChangeKey(View(it->key()));
    if (!change.has_value()) break;  // past the change log
    const std::string key = it->value().ToString();
    absl::StatusOr<std::optional<std::string>> raw =
        view.Get(layout::HistoryKey(key, change->main, change->sub));
    if (!raw.ok()) return raw.status();
    if (!raw->has_value() || (*raw)->empty()) {
      return absl::DataLossError(
          absl::StrCat("backup: change log names a missing version: key=", key,
                       " revision=", change->main));
    }
    const std::string& value = **raw;
    Revision r{change->main, change->sub, value[0] == layout::kTombstoneTag};
    if (r.tombstone) {
      mvccpb::KeyValue kv;
      kv.set_key(key);
      RAFTKV_RETURN_IF_NOT_OK(
          writer->Put(EncodeRevision(r), kv.SerializeAsString()));
    } else {
      RAFTKV_RETURN_IF_NOT_OK(
          writer->Put(EncodeRevision(r), std::string_view(value).substr(1)));
    }
    ++stats->key_entries;
  }
  RAFTKV_RETURN_IF_NOT_OK(FromLevelDb(it->status(), "read change log"));
  return writer->EndBucket();
}

absl::Status WriteLeaseBucket(const ReadView& view, bbolt::Writer* writer,
                              ExportStats* stats) {
  RAFTKV_RETURN_IF_NOT_OK(writer->BeginBucket(kLeaseBucket));
  std::unique_ptr<leveldb::Iterator> it = view.NewIterator();
  const std::string prefix(1, layout::kLeaseTag);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    kvpb::LeaseRecord record;
    if (!record.ParseFromArray(it->value().data(),
                               static_cast<int>(it->value().size()))) {
      return absl::DataLossError("backup: bad lease record");
    }
    RAFTKV_RETURN_IF_NOT_OK(writer->Put(
        BigEndian64(static_cast<uint64_t>(record.id())), EncodeLease(record)));
    ++stats->lease_entries;
  }
  RAFTKV_RETURN_IF_NOT_OK(FromLevelDb(it->status(), "read leases"));
  return writer->EndBucket();
}

absl::Status WriteMembersBucket(const kvpb::MemberList& members,
                                bbolt::Writer* writer) {
  RAFTKV_RETURN_IF_NOT_OK(writer->BeginBucket(kMembersBucket));
  // Keys must come in byte order of their hex spelling.
  std::vector<std::pair<std::string, std::string>> rows;
  for (const kvpb::Member& m : members.members()) {
    rows.emplace_back(MemberKey(m.id()), MemberJson(m));
  }
  std::sort(rows.begin(), rows.end());
  for (const auto& [k, v] : rows) {
    RAFTKV_RETURN_IF_NOT_OK(writer->Put(k, v));
  }
  return writer->EndBucket();
}

absl::Status EmptyBucket(std::string_view name, bbolt::Writer* writer) {
  RAFTKV_RETURN_IF_NOT_OK(writer->BeginBucket(name));
  return writer->EndBucket();
}

absl::Status OneEntryBucket(std::string_view name, std::string_view key,
                            std::string_view value, bbolt::Writer* writer) {
  RAFTKV_RETURN_IF_NOT_OK(writer->BeginBucket(name));
  RAFTKV_RETURN_IF_NOT_OK(writer->Put(key, value));
  return writer->EndBucket();
}

}  // namespace

absl::StatusOr<ExportStats> ExportEtcdSnapshot(const ReadView& view,
                                               const kvpb::MemberList& members,
                                               const std::string& path) {
  ExportStats stats;
  absl::StatusOr<int64_t> revision = MetaValue(view, layout::kRevisionKey, 1);
  absl::StatusOr<int64_t> compact = MetaValue(view, layout::kCompactKey, 0);
  absl::StatusOr<int64_t> applied =
      MetaValue(view, layout::kAppliedIndexKey, 0);
  for (const auto* s : {&revision, &compact, &applied}) {
    if (!s->ok()) return s->status();
  }
  stats.revision = *revision;
  stats.compact_revision = *compact;
  stats.consistent_index = static_cast<uint64_t>(*applied);

  absl::StatusOr<std::unique_ptr<bbolt::Writer>> created =
      bbolt::Writer::Create(path);
  if (!created.ok()) return created.status();
  bbolt::Writer* w = created->get();
  // Buckets in byte order of name, as the writer requires.
  RAFTKV_RETURN_IF_NOT_OK(EmptyBucket(kAlarmBucket, w));
  RAFTKV_RETURN_IF_NOT_OK(
      OneEntryBucket(kAuthBucket, kAuthRevisionKey, BigEndian64(1), w));
  RAFTKV_RETURN_IF_NOT_OK(EmptyBucket(kAuthRolesBucket, w));
  RAFTKV_RETURN_IF_NOT_OK(EmptyBucket(kAuthUsersBucket, w));
  RAFTKV_RETURN_IF_NOT_OK(
      OneEntryBucket(kClusterBucket, kClusterVersionKey, kClusterVersion, w));
  RAFTKV_RETURN_IF_NOT_OK(
      WriteKeyBucket(view, stats.compact_revision, path + ".sort", w, &stats));
  RAFTKV_RETURN_IF_NOT_OK(WriteLeaseBucket(view, w, &stats));
  RAFTKV_RETURN_IF_NOT_OK(WriteMembersBucket(members, w));
  RAFTKV_RETURN_IF_NOT_OK(EmptyBucket(kMembersRemovedBucket, w));
  RAFTKV_RETURN_IF_NOT_OK(w->BeginBucket(kMetaBucket));
  RAFTKV_RETURN_IF_NOT_OK(
      w->Put(kConsistentIndexKey, BigEndian64(stats.consistent_index)));
  if (stats.compact_revision > 0) {
    const std::string rev = EncodeRevision({stats.compact_revision, 0, false});
    RAFTKV_RETURN_IF_NOT_OK(w->Put(kFinishedCompactKey, rev));
    RAFTKV_RETURN_IF_NOT_OK(w->Put(kScheduledCompactKey, rev));
  }
  RAFTKV_RETURN_IF_NOT_OK(w->EndBucket());
  RAFTKV_RETURN_IF_NOT_OK(w->Finish());
  return stats;
}

}  // namespace raftkv::kv::backup
