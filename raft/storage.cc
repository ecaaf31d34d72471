#include "raft/storage.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/check.h"

namespace raftkv::raft {
namespace {

constexpr char kCompacted[] =
    "raft: requested index is unavailable due to compaction";
constexpr char kUnavailable[] = "raft: requested entry at index is unavailable";

}  // namespace

absl::Status ErrCompacted() { return absl::OutOfRangeError(kCompacted); }
absl::Status ErrUnavailable() { return absl::NotFoundError(kUnavailable); }
bool IsCompacted(const absl::Status& s) {
  return absl::IsOutOfRange(s) && s.message() == kCompacted;
}
bool IsEntryUnavailable(const absl::Status& s) {
  return absl::IsNotFound(s) && s.message() == kUnavailable;
}

MemoryStorage::MemoryStorage() { entries_.emplace_back(); }

absl::StatusOr<InitialState> MemoryStorage::GetInitialState() const {
  return InitialState{hard_state_, snapshot_.metadata().conf_state()};
}

uint64_t MemoryStorage::FirstIndex() const { return entries_[0].index() + 1; }

uint64_t MemoryStorage::LastIndex() const {
  return entries_[0].index() + entries_.size() - 1;
}

absl::StatusOr<uint64_t> MemoryStorage::Term(uint64_t index) const {
  const uint64_t offset = entries_[0].index();
  if (index < offset) return ErrCompacted();
  if (index - offset >= entries_.size()) return ErrUnavailable();
  return entries_[index - offset].term();
}

absl::StatusOr<std::vector<Entry>> MemoryStorage::Entries(
    uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  const uint64_t offset = entries_[0].index();
  if (lo <= offset) return ErrCompacted();
  if (hi > LastIndex() + 1) return ErrUnavailable();
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = entries_[i - offset];
    bytes += e.ByteSizeLong();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

absl::StatusOr<Snapshot> MemoryStorage::GetSnapshot() const {
  return snapshot_;
}

void MemoryStorage::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  const uint64_t first = FirstIndex();
  const uint64_t last_new = entries.back().index();
  if (last_new < first) return;  // all already compacted
  RAFTKV_CHECK_LE(entries[0].index(), LastIndex() + 1);
  // Skip the part already covered by the snapshot.
  size_t skip = first > entries[0].index() ? first - entries[0].index() : 0;
  const uint64_t start = entries[skip].index();
  entries_.resize(start - entries_[0].index());  // drop conflicting suffix
  entries_.insert(entries_.end(), entries.begin() + skip, entries.end());
}

absl::Status MemoryStorage::ApplySnapshot(const Snapshot& snapshot) {
  if (snapshot.metadata().index() <= snapshot_.metadata().index()) {
    return ErrCompacted();
  }
  snapshot_ = snapshot;
  entries_.clear();
  Entry dummy;
  dummy.set_index(snapshot.metadata().index());
  dummy.set_term(snapshot.metadata().term());
  entries_.push_back(std::move(dummy));
  return absl::OkStatus();
}

absl::Status MemoryStorage::CreateSnapshot(uint64_t index,
                                           const ConfState& conf_state,
                                           std::string data) {
  if (index <= snapshot_.metadata().index()) return ErrCompacted();
  if (index > LastIndex()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "snapshot index ", index, " is past the last index ", LastIndex()));
  }
  auto term = Term(index);
  if (!term.ok()) return term.status();
  snapshot_.mutable_metadata()->set_index(index);
  snapshot_.mutable_metadata()->set_term(*term);
  *snapshot_.mutable_metadata()->mutable_conf_state() = conf_state;
  snapshot_.set_data(std::move(data));
  return Compact(index);
}

absl::Status MemoryStorage::Compact(uint64_t index) {
  const uint64_t offset = entries_[0].index();
  if (index <= offset) return ErrCompacted();
  if (index > LastIndex()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "compact index ", index, " is past the last index ", LastIndex()));
  }
  std::vector<Entry> kept;
  kept.reserve(LastIndex() - index + 1);
  Entry dummy;
  dummy.set_index(index);
  dummy.set_term(entries_[index - offset].term());
  kept.push_back(std::move(dummy));
  for (uint64_t i = index + 1; i <= LastIndex(); ++i) {
    kept.push_back(std::move(entries_[i - offset]));
  }
  entries_ = std::move(kept);
  return absl::OkStatus();
}

}  // namespace raftkv::raft
