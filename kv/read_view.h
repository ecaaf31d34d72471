// ReadView: the one seam through which MVCC reads see LevelDB. A view is
// either a LevelDB snapshot (readers on gRPC threads) or a snapshot overlaid
// with the not-yet-written entries of the batch being applied (the apply
// thread, so that request N+1 of a batch sees request N's writes before the
// batch's single leveldb::WriteBatch is committed).
#ifndef RAFTKV_KV_READ_VIEW_H_
#define RAFTKV_KV_READ_VIEW_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "leveldb/db.h"
#include "leveldb/iterator.h"
#include "leveldb/write_batch.h"

namespace raftkv::kv {

// Counters for tests and benchmarks (the seam that proves a Range does
// bounded work): every iterator positioning (Seek or Next) on the view and
// every full value decoded.
struct ReadStats {
  int64_t index_steps = 0;
  int64_t values_decoded = 0;
};

class ReadView {
 public:
  virtual ~ReadView() = default;
  // A forward-only iterator over raw LevelDB keys (Prev/SeekToLast are not
  // supported by every view). The caller owns it; it must not outlive the
  // view.
  virtual std::unique_ptr<leveldb::Iterator> NewIterator() const = 0;
  // The value stored under exactly `raw`, or nullopt if absent. The default
  // seeks an iterator; views override it with cheaper point lookups (a put
  // reads its key's current meta this way).
  virtual absl::StatusOr<std::optional<std::string>> Get(
      std::string_view raw) const;
};

// Owns a LevelDB snapshot and releases it on destruction.
// REQUIRES: `db` outlives the view.
class SnapshotView : public ReadView {
 public:
  explicit SnapshotView(leveldb::DB* db)
      : db_(db), snapshot_(db->GetSnapshot()) {}
  ~SnapshotView() override { db_->ReleaseSnapshot(snapshot_); }
  SnapshotView(const SnapshotView&) = delete;
  SnapshotView& operator=(const SnapshotView&) = delete;

  std::unique_ptr<leveldb::Iterator> NewIterator() const override;
  absl::StatusOr<std::optional<std::string>> Get(
      std::string_view raw) const override;

 private:
  leveldb::DB* const db_;
  const leveldb::Snapshot* const snapshot_;
};

// Pending writes of one apply batch, ordered by raw key. nullopt marks a
// deletion. Keeps an undo log so that a request that fails halfway can be
// rolled back without copying the batch.
class WriteOverlay {
 public:
  void Put(std::string key, std::string value) {
    Set(std::move(key), std::move(value));
  }
  void Delete(std::string key) { Set(std::move(key), std::nullopt); }
  bool empty() const { return entries_.empty(); }

  // A point to roll back to; valid until the next Clear().
  size_t Mark() const { return undo_.size(); }
  // Undoes every Put/Delete made after `mark`.
  void RollbackTo(size_t mark);
  // Appends every pending entry to `batch`.
  void AppendTo(leveldb::WriteBatch* batch) const;
  const std::map<std::string, std::optional<std::string>, std::less<>>&
  entries() const {
    return entries_;
  }

 private:
  // An entry's state before one Set: absent (outer nullopt), deleted, or set.
  struct Undo {
    std::string key;
    std::optional<std::optional<std::string>> before;
  };
  void Set(std::string key, std::optional<std::string> value);

  std::map<std::string, std::optional<std::string>, std::less<>> entries_;
  std::vector<Undo> undo_;
};

// `base` with `overlay` applied on top.
// REQUIRES: both outlive the view and every iterator made from it; the
// overlay is not modified while an iterator is in use (it may change between
// iterators).
class OverlayView : public ReadView {
 public:
  OverlayView(const ReadView* base, const WriteOverlay* overlay)
      : base_(base), overlay_(overlay) {}
  std::unique_ptr<leveldb::Iterator> NewIterator() const override;
  absl::StatusOr<std::optional<std::string>> Get(
      std::string_view raw) const override;

 private:
  const ReadView* const base_;
  const WriteOverlay* const overlay_;
};

// Raw current-key ("c" + key) -> the stored meta, or nullopt if absent.
using MetaCache = absl::flat_hash_map<std::string, std::optional<std::string>>;

// `base` with its current-key lookups served from (and added to) `cache`,
// up to `limit` entries. Other lookups and iterators go to `base`.
// REQUIRES: `cache` matches `base` for every key it holds; one writer.
class CachedMetaView : public ReadView {
 public:
  CachedMetaView(const ReadView* base, MetaCache* cache, size_t limit)
      : base_(base), cache_(cache), limit_(limit) {}
  std::unique_ptr<leveldb::Iterator> NewIterator() const override {
    return base_->NewIterator();
  }
  absl::StatusOr<std::optional<std::string>> Get(
      std::string_view raw) const override;

 private:
  const ReadView* const base_;
  MetaCache* const cache_;
  const size_t limit_;
};

// Positions on `raw` exactly; returns its value or nullopt if absent.
std::optional<std::string> GetRaw(leveldb::Iterator* it, std::string_view raw);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_READ_VIEW_H_
