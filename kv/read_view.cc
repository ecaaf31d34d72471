#include "kv/read_view.h"

#include "kv/key_layout.h"
#include "raft/check.h"

namespace raftkv::kv {
namespace {

// Merges a base iterator with the overlay's sorted entries; an overlay entry
// shadows the base entry with the same key, and an overlay deletion hides
// it. Forward only.
class OverlayIterator : public leveldb::Iterator {
 public:
  using Map = std::map<std::string, std::optional<std::string>, std::less<>>;

  OverlayIterator(std::unique_ptr<leveldb::Iterator> base, const Map* overlay)
      : base_(std::move(base)), overlay_(overlay), pos_(overlay->end()) {}

  bool Valid() const override { return current_ != Source::kNone; }
  void SeekToFirst() override {
    base_->SeekToFirst();
    pos_ = overlay_->begin();
    Settle();
  }
  void SeekToLast() override { RAFTKV_CHECK(false && "forward only"); }
  void Seek(const leveldb::Slice& target) override {
    base_->Seek(target);
    pos_ =
        overlay_->lower_bound(std::string_view(target.data(), target.size()));
    Settle();
  }
  void Next() override {
    RAFTKV_CHECK(Valid());
    if (current_ == Source::kOverlay) {
      // Skip the base entry this overlay entry shadowed.
      if (base_->Valid() && base_->key() == leveldb::Slice(pos_->first)) {
        base_->Next();
      }
      ++pos_;
    } else {
      base_->Next();
    }
    Settle();
  }
  void Prev() override { RAFTKV_CHECK(false && "forward only"); }
  leveldb::Slice key() const override {
    return current_ == Source::kOverlay ? leveldb::Slice(pos_->first)
                                        : base_->key();
  }
  leveldb::Slice value() const override {
    return current_ == Source::kOverlay ? leveldb::Slice(*pos_->second)
                                        : base_->value();
  }
  leveldb::Status status() const override { return base_->status(); }

 private:
  enum class Source { kNone, kBase, kOverlay };

  // Chooses the smaller of the two heads, skipping overlay deletions and the
  // base entries they hide.
  void Settle() {
    while (true) {
      bool have_base = base_->Valid();
      bool have_overlay = pos_ != overlay_->end();
      if (!have_overlay) {
        current_ = have_base ? Source::kBase : Source::kNone;
        return;
      }
      int cmp =
          have_base ? base_->key().compare(leveldb::Slice(pos_->first)) : 1;
      if (cmp < 0) {
        current_ = Source::kBase;
        return;
      }
      if (pos_->second.has_value()) {
        current_ = Source::kOverlay;
        return;
      }
      if (cmp == 0) base_->Next();
      ++pos_;
    }
  }

  std::unique_ptr<leveldb::Iterator> base_;
  const Map* overlay_;
  Map::const_iterator pos_;
  Source current_ = Source::kNone;
};

}  // namespace

std::unique_ptr<leveldb::Iterator> SnapshotView::NewIterator() const {
  leveldb::ReadOptions options;
  options.snapshot = snapshot_;
  return std::unique_ptr<leveldb::Iterator>(db_->NewIterator(options));
}

void WriteOverlay::Set(std::string key, std::optional<std::string> value) {
  auto it = entries_.find(key);
  Undo undo{key, std::nullopt};
  if (it != entries_.end()) undo.before = std::move(it->second);
  undo_.push_back(std::move(undo));
  entries_[std::move(key)] = std::move(value);
}

void WriteOverlay::RollbackTo(size_t mark) {
  RAFTKV_CHECK_LE(mark, undo_.size());
  while (undo_.size() > mark) {
    Undo& undo = undo_.back();
    if (undo.before.has_value()) {
      entries_[undo.key] = std::move(*undo.before);
    } else {
      entries_.erase(undo.key);
    }
    undo_.pop_back();
  }
}

void WriteOverlay::AppendTo(leveldb::WriteBatch* batch) const {
  for (const auto& [key, value] : entries_) {
    if (value.has_value()) {
      batch->Put(key, *value);
    } else {
      batch->Delete(key);
    }
  }
}

std::unique_ptr<leveldb::Iterator> OverlayView::NewIterator() const {
  return std::make_unique<OverlayIterator>(base_->NewIterator(),
                                           &overlay_->entries());
}

absl::StatusOr<std::optional<std::string>> ReadView::Get(
    std::string_view raw) const {
  std::unique_ptr<leveldb::Iterator> it = NewIterator();
  std::optional<std::string> value = GetRaw(it.get(), raw);
  if (!value.has_value() && !it->status().ok()) {
    return absl::UnavailableError("kv: leveldb read: " +
                                  it->status().ToString());
  }
  return value;
}

absl::StatusOr<std::optional<std::string>> SnapshotView::Get(
    std::string_view raw) const {
  leveldb::ReadOptions options;
  options.snapshot = snapshot_;
  std::string value;
  leveldb::Status s =
      db_->Get(options, leveldb::Slice(raw.data(), raw.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok())
    return absl::UnavailableError("kv: leveldb read: " + s.ToString());
  return value;
}

absl::StatusOr<std::optional<std::string>> OverlayView::Get(
    std::string_view raw) const {
  const auto& entries = overlay_->entries();
  if (auto it = entries.find(raw); it != entries.end()) return it->second;
  return base_->Get(raw);
}

absl::StatusOr<std::optional<std::string>> CachedMetaView::Get(
    std::string_view raw) const {
  if (raw.empty() || raw[0] != layout::kCurrentTag || limit_ == 0) {
    return base_->Get(raw);
  }
  const absl::string_view lookup(raw.data(), raw.size());
  if (auto it = cache_->find(lookup); it != cache_->end()) return it->second;
  absl::StatusOr<std::optional<std::string>> value = base_->Get(raw);
  if (!value.ok()) return value;
  if (cache_->size() >= limit_) cache_->clear();
  cache_->emplace(std::string(raw), *value);
  return value;
}

std::optional<std::string> GetRaw(leveldb::Iterator* it, std::string_view raw) {
  leveldb::Slice target(raw.data(), raw.size());
  it->Seek(target);
  if (!it->Valid() || it->key() != target) return std::nullopt;
  return it->value().ToString();
}

}  // namespace raftkv::kv
