#include "kv/mvcc_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kv/alarms.h"
#include "kv/errors.h"
#include "kv/key_layout.h"
#include "kv/range_reader.h"
#include "kv/status_macros.h"
#include "kv/write_txn.h"
#include "leveldb/filter_policy.h"
#include "leveldb/write_batch.h"
#include "raft/check.h"

namespace raftkv::kv {
namespace {

using etcdserverpb::CompactionRequest;
using etcdserverpb::CompactionResponse;
using etcdserverpb::DeleteRangeRequest;
using etcdserverpb::PutRequest;
using etcdserverpb::TxnRequest;

absl::Status FromLevelDb(const leveldb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("kv: leveldb ", std::string(what), ": ", s.ToString()));
}

absl::StatusOr<uint64_t> ReadMeta(leveldb::DB* db, std::string_view name,
                                  uint64_t missing) {
  std::string raw;
  leveldb::Status s = db->Get(leveldb::ReadOptions(),
                              leveldb::Slice(name.data(), name.size()), &raw);
  if (s.IsNotFound()) return missing;
  RAFTKV_RETURN_IF_NOT_OK(FromLevelDb(s, "read meta"));
  if (raw.size() != 8) {
    return absl::DataLossError(
        absl::StrCat("kv: bad meta entry ", std::string(name)));
  }
  return layout::DecodeFixed64(raw);
}

void PutMeta(leveldb::WriteBatch* batch, std::string_view name, uint64_t v) {
  batch->Put(leveldb::Slice(name.data(), name.size()),
             layout::EncodeFixed64(v));
}

std::string_view View(const leveldb::Slice& s) {
  return std::string_view(s.data(), s.size());
}

// Executes one command on the batch's view, advancing `rev` on success.
class CommandRunner {
 public:
  CommandRunner(const ReadView* view, WriteOverlay* overlay,
                const MvccOptions& options, int64_t* current, int64_t* compact)
      : view_(view),
        overlay_(overlay),
        options_(options),
        current_(current),
        compact_(compact) {}

  absl::StatusOr<ApplyResponse> operator()(std::monostate) {
    return ApplyResponse();
  }
  absl::StatusOr<ApplyResponse> operator()(const PutRequest* req) {
    RAFTKV_RETURN_IF_NOT_OK(ValidatePut(*req));
    if (req->lease() != 0 && !LeaseExists(*view_, req->lease())) {
      return LeaseNotFoundError();
    }
    WriteTxn txn = NewTxn();
    return Finish(txn, txn.Put(*req));
  }
  absl::StatusOr<ApplyResponse> operator()(const DeleteRangeRequest* req) {
    RAFTKV_RETURN_IF_NOT_OK(ValidateDeleteRange(*req));
    WriteTxn txn = NewTxn();
    return Finish(txn, txn.DeleteRange(*req));
  }
  absl::StatusOr<ApplyResponse> operator()(const TxnRequest* req) {
    RAFTKV_RETURN_IF_NOT_OK(ValidateTxn(*req, options_.max_txn_ops));
    WriteTxn txn = NewTxn();
    return Finish(txn, txn.Txn(*req));
  }
  absl::StatusOr<ApplyResponse> operator()(const kvpb::LeaseGrant* req) {
    if (LeaseExists(*view_, req->id())) return LeaseExistError();
    kvpb::LeaseRecord record;
    record.set_id(req->id());
    record.set_ttl(req->ttl());
    overlay_->Put(layout::LeaseKey(req->id()), record.SerializeAsString());
    kvpb::LeaseResult result;
    result.set_id(req->id());
    result.set_ttl(req->ttl());
    result.set_revision(*current_);
    return result;
  }
  absl::StatusOr<ApplyResponse> operator()(const kvpb::LeaseRevoke* req) {
    WriteTxn txn = NewTxn();
    absl::StatusOr<int64_t> deleted = txn.RevokeLease(req->id());
    if (!deleted.ok()) return deleted.status();
    *current_ = txn.end_revision();
    kvpb::LeaseResult result;
    result.set_id(req->id());
    result.set_revision(*current_);
    return result;
  }
  absl::StatusOr<ApplyResponse> operator()(const kvpb::LeaseCheckpoint* req) {
    // Records remaining TTLs of leases that still exist.
    for (const kvpb::LeaseRecord& cp : req->leases()) {
      std::unique_ptr<leveldb::Iterator> it = view_->NewIterator();
      const std::string key = layout::LeaseKey(cp.id());
      it->Seek(key);
      if (!it->Valid() || it->key() != leveldb::Slice(key)) continue;
      kvpb::LeaseRecord record;
      if (!record.ParseFromArray(it->value().data(),
                                 static_cast<int>(it->value().size()))) {
        continue;
      }
      record.set_remaining_ttl(cp.remaining_ttl());
      overlay_->Put(key, record.SerializeAsString());
    }
    return ApplyResponse();
  }
  absl::StatusOr<ApplyResponse> operator()(const kvpb::AlarmChange* req) {
    // Persistence only; the StateMachine answers from its AlarmSet.
    const std::string key = layout::AlarmKey(req->alarm(), req->member_id());
    if (req->action() == kvpb::AlarmChange::ACTIVATE) {
      overlay_->Put(key, "");
    } else if (req->action() == kvpb::AlarmChange::DEACTIVATE) {
      overlay_->Delete(key);
    }
    return ApplyResponse();
  }
  absl::StatusOr<ApplyResponse> operator()(const CompactionRequest* req) {
    if (req->revision() <= *compact_) return CompactedError();
    if (req->revision() > *current_) return FutureRevError();
    *compact_ = req->revision();
    CompactionResponse resp;
    resp.mutable_header()->set_revision(*current_);
    return resp;
  }

 private:
  WriteTxn NewTxn() { return WriteTxn(view_, overlay_, *current_, *compact_); }

  template <typename Resp>
  absl::StatusOr<ApplyResponse> Finish(const WriteTxn& txn,
                                       absl::StatusOr<Resp> resp) {
    if (!resp.ok()) return resp.status();
    *current_ = txn.end_revision();
    return ApplyResponse(*std::move(resp));
  }

  const ReadView* view_;
  WriteOverlay* overlay_;
  const MvccOptions& options_;
  int64_t* current_;
  int64_t* compact_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MvccStore>> MvccStore::Open(
    const std::string& dir, const MvccOptions& options) {
  leveldb::Options db_options;
  db_options.create_if_missing = true;
  // A put reads its key's current meta by point lookup; the filter lets a
  // lookup of a new key skip the tables (10 bits a key: ~1 % false hits).
  static const leveldb::FilterPolicy* const kBloom =
      leveldb::NewBloomFilterPolicy(10);
  db_options.filter_policy = kBloom;
  if (options.env != nullptr) db_options.env = options.env;
  leveldb::DB* raw = nullptr;
  RAFTKV_RETURN_IF_NOT_OK(
      FromLevelDb(leveldb::DB::Open(db_options, dir, &raw), "open"));
  std::unique_ptr<leveldb::DB> db(raw);

  Revisions revisions;
  absl::StatusOr<uint64_t> current =
      ReadMeta(db.get(), layout::kRevisionKey, 1);
  absl::StatusOr<uint64_t> compact = ReadMeta(db.get(), layout::kCompactKey, 0);
  absl::StatusOr<uint64_t> applied =
      ReadMeta(db.get(), layout::kAppliedIndexKey, 0);
  absl::StatusOr<uint64_t> through =
      ReadMeta(db.get(), layout::kCompactedThroughKey, 0);
  for (const auto* s : {&current, &compact, &applied, &through}) {
    if (!s->ok()) return s->status();
  }
  revisions.current = static_cast<int64_t>(*current);
  revisions.compact = static_cast<int64_t>(*compact);
  revisions.applied_index = *applied;
  layout::ChangeKeyParts cursor{0, 0};
  std::string raw_cursor;
  leveldb::Status cs = db->Get(leveldb::ReadOptions(),
                               layout::kCompactCursorKey.data(), &raw_cursor);
  if (cs.ok()) {
    std::optional<layout::ChangeKeyParts> parsed =
        layout::ParseChangeKey(raw_cursor);
    if (!parsed.has_value()) return absl::DataLossError("kv: bad cursor");
    cursor = *parsed;
  } else if (!cs.IsNotFound()) {
    return FromLevelDb(cs, "read meta");
  }
  return std::unique_ptr<MvccStore>(
      new MvccStore(std::move(db), options, revisions, cursor,
                    static_cast<int64_t>(*through)));
}

MvccStore::MvccStore(std::unique_ptr<leveldb::DB> db,
                     const MvccOptions& options, const Revisions& revisions,
                     layout::ChangeKeyParts compact_cursor,
                     int64_t compacted_through)
    : options_(options),
      db_(std::move(db)),
      compact_cursor_(compact_cursor),
      compacted_through_(compacted_through),
      revisions_(revisions) {}

MvccStore::~MvccStore() = default;

absl::StatusOr<std::vector<kvpb::LeaseRecord>> MvccStore::Leases() const {
  Revisions revisions;
  std::unique_ptr<SnapshotView> view = Snapshot(&revisions);
  std::unique_ptr<leveldb::Iterator> it = view->NewIterator();
  const std::string prefix(1, layout::kLeaseTag);
  std::vector<kvpb::LeaseRecord> out;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    kvpb::LeaseRecord record;
    if (!record.ParseFromArray(it->value().data(),
                               static_cast<int>(it->value().size()))) {
      return absl::DataLossError("kv: bad lease record");
    }
    out.push_back(std::move(record));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> MvccStore::LeaseKeys(
    int64_t id) const {
  Revisions revisions;
  std::unique_ptr<SnapshotView> view = Snapshot(&revisions);
  std::unique_ptr<leveldb::Iterator> it = view->NewIterator();
  const std::string prefix = layout::LeaseKeyIndexKey(id, "");
  std::vector<std::string> out;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    out.emplace_back(it->key().data() + prefix.size(),
                     it->key().size() - prefix.size());
  }
  return out;
}

absl::StatusOr<uint64_t> MvccStore::Sync() {
  absl::MutexLock w(&write_mu_);
  if (!write_error_.ok()) return write_error_;
  leveldb::WriteOptions sync;
  sync.sync = true;
  leveldb::WriteBatch empty;
  if (absl::Status s = FromLevelDb(db_->Write(sync, &empty), "sync"); !s.ok()) {
    write_error_ = s;
    return s;
  }
  absl::ReaderMutexLock l(&mu_);
  return revisions_.applied_index;
}

std::unique_ptr<ReadView> MvccStore::RawSnapshot() const {
  return std::make_unique<SnapshotView>(db_.get());
}

int64_t MvccStore::ApproximateSize() const {
  const std::string lo(1, '\0');
  const std::string hi(16, '\xff');
  leveldb::Range all(lo, hi);
  uint64_t size = 0;
  db_->GetApproximateSizes(&all, 1, &size);
  return static_cast<int64_t>(size);
}

void MvccStore::CompactRange() const {
  // leveldb::DB::CompactRange(all) merges each level into the next, down to
  // the deepest level that has files, but never rewrites a table of that
  // deepest level on its own; and a memtable flush writes every version it
  // holds, shadowed ones included, placing the table as deep as level 2.
  // So a store whose history sits in one flushed table (all of a small
  // store) kept its garbage. Hence: (1) flush, by compacting the empty
  // range, which no key overlaps (every key starts with a tag byte); (2)
  // write tombstones for keys below and above every key (never present, so
  // nothing is deleted) and flush them: that table spans the whole range,
  // so it lands above every table; (3) compact everything: it merges down
  // through every level, dropping shadowed versions and the tombstones.
  // (StateMachineAlarmsTest.DefragmentReturnsCompactedSpace and
  // ...OfAHistoryStillInTheMemtable.)
  const leveldb::Slice empty;
  db_->CompactRange(&empty, &empty);
  leveldb::WriteBatch span;
  span.Delete(leveldb::Slice());  // the smallest key
  span.Delete("\xff");            // above every tag byte
  if (db_->Write(leveldb::WriteOptions(), &span).ok()) {
    db_->CompactRange(&empty, &empty);
  }
  db_->CompactRange(nullptr, nullptr);
}

absl::StatusOr<std::vector<kvpb::AlarmMember>> MvccStore::Alarms() const {
  Revisions revisions;
  std::unique_ptr<SnapshotView> view = Snapshot(&revisions);
  return ReadAlarms(*view);
}

int64_t MvccStore::revision() const {
  absl::ReaderMutexLock l(&mu_);
  return revisions_.current;
}

int64_t MvccStore::compact_revision() const {
  absl::ReaderMutexLock l(&mu_);
  return revisions_.compact;
}

uint64_t MvccStore::applied_index() const {
  absl::ReaderMutexLock l(&mu_);
  return revisions_.applied_index;
}

std::unique_ptr<SnapshotView> MvccStore::Snapshot(Revisions* revisions) const {
  absl::ReaderMutexLock l(&mu_);
  *revisions = revisions_;
  return std::make_unique<SnapshotView>(db_.get());
}

absl::Status MvccStore::Commit(leveldb::WriteBatch* batch,
                               const Revisions& next) {
  absl::MutexLock l(&mu_);
  leveldb::WriteOptions write_options;
  write_options.sync = options_.sync;
  absl::Status s = FromLevelDb(db_->Write(write_options, batch), "write");
  if (!s.ok()) {
    write_error_ = s;
    return s;
  }
  revisions_ = next;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<absl::StatusOr<ApplyResponse>>> MvccStore::Apply(
    absl::Span<const ApplyCommand> commands) {
  absl::MutexLock w(&write_mu_);
  RAFTKV_RETURN_IF_NOT_OK(write_error_);
  Revisions before;
  std::unique_ptr<SnapshotView> base = Snapshot(&before);
  CachedMetaView cached(base.get(), &meta_cache_, options_.meta_cache_entries);
  WriteOverlay overlay;
  OverlayView view(&cached, &overlay);
  Revisions next = before;
  CommandRunner runner(&view, &overlay, options_, &next.current, &next.compact);

  std::vector<absl::StatusOr<ApplyResponse>> results;
  results.reserve(commands.size());
  uint64_t last_index = 0;
  for (const ApplyCommand& cmd : commands) {
    RAFTKV_CHECK_GT(cmd.raft_index, last_index);
    last_index = cmd.raft_index;
    if (cmd.raft_index <= before.applied_index) {
      results.emplace_back(ApplyResponse());  // replayed from the WAL
      continue;
    }
    next.applied_index = cmd.raft_index;
    const size_t mark = overlay.Mark();
    const Revisions undo = next;
    absl::StatusOr<ApplyResponse> result = std::visit(runner, cmd.request);
    if (!result.ok()) {
      overlay.RollbackTo(mark);
      next.current = undo.current;
      next.compact = undo.compact;
    }
    results.push_back(std::move(result));
  }
  if (next.applied_index == before.applied_index) return results;

  leveldb::WriteBatch batch;
  overlay.AppendTo(&batch);
  PutMeta(&batch, layout::kRevisionKey, next.current);
  PutMeta(&batch, layout::kCompactKey, next.compact);
  PutMeta(&batch, layout::kAppliedIndexKey, next.applied_index);
  if (absl::Status s = Commit(&batch, next); !s.ok()) {
    meta_cache_.clear();
    return s;
  }
  // The cache follows the batch's current-key changes (cached keys only:
  // a new key is added when next read).
  for (const auto& [raw, value] : overlay.entries()) {
    if (raw.empty() || raw[0] != layout::kCurrentTag) continue;
    if (auto it = meta_cache_.find(absl::string_view(raw));
        it != meta_cache_.end()) {
      it->second = value;
    }
  }
  return results;
}

absl::StatusOr<etcdserverpb::RangeResponse> MvccStore::Range(
    const etcdserverpb::RangeRequest& req, ReadStats* stats) const {
  RAFTKV_RETURN_IF_NOT_OK(ValidateRange(req));
  Revisions revisions;
  std::unique_ptr<SnapshotView> view = Snapshot(&revisions);
  ReadContext ctx;
  ctx.view = view.get();
  ctx.current_rev = revisions.current;
  ctx.compact_rev = revisions.compact;
  ctx.stats = stats;
  return ExecuteRange(ctx, req);
}

absl::StatusOr<ChangeBatch> MvccStore::ReadChanges(int64_t from_rev,
                                                   int64_t to_rev, size_t limit,
                                                   bool prev_kv) const {
  Revisions revisions;
  std::unique_ptr<SnapshotView> view = Snapshot(&revisions);
  if (from_rev < revisions.compact) return CompactedError();
  const int64_t last = std::min(to_rev, revisions.current);
  ChangeBatch out;
  out.next_revision = std::max<int64_t>(from_rev, last + 1);
  std::unique_ptr<leveldb::Iterator> it = view->NewIterator();
  std::unique_ptr<leveldb::Iterator> hist = view->NewIterator();
  int64_t prev_main = -1;
  for (it->Seek(layout::ChangeKey(std::max<int64_t>(from_rev, 0), 0));
       it->Valid(); it->Next()) {
    std::optional<layout::ChangeKeyParts> change =
        layout::ParseChangeKey(View(it->key()));
    if (!change.has_value() || change->main > last) break;
    if (limit > 0 && out.events.size() >= limit && change->main != prev_main) {
      out.next_revision = change->main;
      break;
    }
    prev_main = change->main;
    std::string key = it->value().ToString();
    std::optional<std::string> raw =
        GetRaw(hist.get(), layout::HistoryKey(key, change->main, change->sub));
    if (!raw.has_value()) {
      return absl::DataLossError(
          absl::StrCat("kv: change log names a missing version: key=", key,
                       " revision=", change->main));
    }
    absl::StatusOr<std::optional<mvccpb::KeyValue>> kv =
        DecodeHistoryValue(*raw);
    if (!kv.ok()) return kv.status();
    mvccpb::Event& event = out.events.emplace_back();
    if (kv->has_value()) {
      event.set_type(mvccpb::Event::PUT);
      *event.mutable_kv() = std::move(**kv);
    } else {
      event.set_type(mvccpb::Event::DELETE);
      event.mutable_kv()->set_key(key);
      event.mutable_kv()->set_mod_revision(change->main);
    }
    if (!prev_kv) continue;
    // The entry after this one in the history is the key's previous version,
    // unless compaction removed it.
    hist->Next();
    if (!hist->Valid()) continue;
    std::optional<layout::HistoryKeyParts> prev =
        layout::ParseHistoryKey(View(hist->key()));
    if (!prev.has_value() || prev->key != key) continue;
    absl::StatusOr<std::optional<mvccpb::KeyValue>> prev_value =
        DecodeHistoryValue(View(hist->value()));
    if (!prev_value.ok()) return prev_value.status();
    if (prev_value->has_value()) {
      *event.mutable_prev_kv() = std::move(**prev_value);
    }
  }
  if (!it->status().ok()) return FromLevelDb(it->status(), "read");
  return out;
}

absl::StatusOr<bool> MvccStore::CompactStep(size_t max_changes) {
  absl::MutexLock w(&write_mu_);
  RAFTKV_RETURN_IF_NOT_OK(write_error_);
  Revisions revisions;
  std::unique_ptr<SnapshotView> view = Snapshot(&revisions);
  const int64_t target = revisions.compact;
  if (compacted_through_ == target) return true;

  leveldb::WriteBatch batch;
  std::unique_ptr<leveldb::Iterator> it = view->NewIterator();
  std::unique_ptr<leveldb::Iterator> hist = view->NewIterator();
  layout::ChangeKeyParts cursor{target, 0};
  size_t examined = 0;
  bool hit_limit = false;
  for (it->Seek(layout::ChangeKey(compact_cursor_.main, compact_cursor_.sub));
       it->Valid(); it->Next()) {
    std::optional<layout::ChangeKeyParts> change =
        layout::ParseChangeKey(View(it->key()));
    // Changes at exactly the target stay, but still supersede older versions.
    if (!change.has_value() || change->main > target) break;
    if (examined == max_changes) {
      cursor = *change;
      hit_limit = true;
      break;
    }
    ++examined;
    std::string key = it->value().ToString();
    // A version survives iff it is the key's newest at or below the target
    // and not a tombstone: reads at the target still need it.
    hist->Seek(layout::HistorySeekKey(key, target));
    std::optional<layout::HistoryKeyParts> newest;
    if (hist->Valid()) newest = layout::ParseHistoryKey(View(hist->key()));
    bool survives = newest.has_value() && newest->key == key &&
                    newest->main == change->main &&
                    newest->sub == change->sub && hist->value().size() > 0 &&
                    hist->value()[0] == layout::kPutTag;
    if (change->main == target) survives = true;
    if (!survives) {
      batch.Delete(layout::HistoryKey(key, change->main, change->sub));
    }
    // The key's next older version is superseded by this change (which is
    // below the target), so it goes too. This is what removes a survivor of
    // an earlier compaction, whose change-log entry is already gone.
    hist->Seek(layout::HistoryKey(key, change->main, change->sub));
    if (hist->Valid()) hist->Next();
    if (hist->Valid()) {
      std::optional<layout::HistoryKeyParts> older =
          layout::ParseHistoryKey(View(hist->key()));
      if (older.has_value() && older->key == key &&
          older->main < change->main) {
        batch.Delete(hist->key());
      }
    }
    if (change->main < target) batch.Delete(it->key());
  }
  if (!it->status().ok()) return FromLevelDb(it->status(), "read");
  // Changes at the target itself are examined again next round: a later
  // compaction may remove them.
  const bool done = !hit_limit;
  const int64_t through = done ? target : compacted_through_;
  batch.Put(layout::kCompactCursorKey.data(),
            layout::ChangeKey(cursor.main, cursor.sub));
  PutMeta(&batch, layout::kCompactedThroughKey, through);
  RAFTKV_RETURN_IF_NOT_OK(Commit(&batch, revisions));
  compact_cursor_ = cursor;
  compacted_through_ = through;
  return done;
}

}  // namespace raftkv::kv
