#include "raft/raft_log.h"

#include <algorithm>

#include "raft/check.h"

namespace raftkv::raft {

RaftLog::RaftLog(Storage* storage)
    : storage_(storage), unstable_offset_(storage->LastIndex() + 1) {
  committed_ = storage->FirstIndex() - 1;
  applied_ = committed_;
  applying_ = committed_;
}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snapshot_) return unstable_snapshot_->metadata().index() + 1;
  return storage_->FirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (!unstable_entries_.empty()) {
    return unstable_offset_ + unstable_entries_.size() - 1;
  }
  if (unstable_snapshot_) return unstable_snapshot_->metadata().index();
  return storage_->LastIndex();
}

uint64_t RaftLog::LastTerm() const { return TermOrZero(LastIndex()); }

absl::StatusOr<uint64_t> RaftLog::Term(uint64_t index) const {
  if (index + 1 < FirstIndex()) return ErrCompacted();
  if (index > LastIndex()) return ErrUnavailable();
  if (unstable_snapshot_ && index == unstable_snapshot_->metadata().index()) {
    return unstable_snapshot_->metadata().term();
  }
  if (index >= unstable_offset_) {
    return unstable_entries_[index - unstable_offset_].term();
  }
  return storage_->Term(index);
}

uint64_t RaftLog::TermOrZero(uint64_t index) const {
  auto term = Term(index);
  if (term.ok()) return *term;
  RAFTKV_CHECK(IsCompacted(term.status()) || IsEntryUnavailable(term.status()));
  return 0;
}

bool RaftLog::MatchTerm(uint64_t index, uint64_t term) const {
  auto t = Term(index);
  return t.ok() && *t == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t last_term) const {
  const uint64_t our_term = LastTerm();
  return last_term > our_term ||
         (last_term == our_term && last_index >= LastIndex());
}

absl::StatusOr<std::vector<raftpb::Entry>> RaftLog::EntriesFrom(
    uint64_t lo, uint64_t max_bytes) const {
  std::vector<raftpb::Entry> out;
  const uint64_t last = LastIndex();
  if (lo > last) return out;
  if (lo < FirstIndex()) return ErrCompacted();
  uint64_t bytes = 0;
  if (lo < unstable_offset_) {
    const uint64_t hi = std::min(unstable_offset_, last + 1);
    auto stored = storage_->Entries(lo, hi, max_bytes);
    if (!stored.ok()) return stored.status();
    out = std::move(*stored);
    for (const auto& e : out) bytes += e.ByteSizeLong();
    if (out.size() < hi - lo) return out;  // size limit reached
  }
  for (uint64_t i = std::max(lo, unstable_offset_); i <= last; ++i) {
    const raftpb::Entry& e = unstable_entries_[i - unstable_offset_];
    bytes += e.ByteSizeLong();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

absl::StatusOr<raftpb::Snapshot> RaftLog::GetSnapshot() const {
  if (unstable_snapshot_) return *unstable_snapshot_;
  return storage_->GetSnapshot();
}

std::optional<uint64_t> RaftLog::MaybeAppend(
    uint64_t prev_index, uint64_t prev_term, uint64_t leader_commit,
    const std::vector<raftpb::Entry>& entries) {
  if (!MatchTerm(prev_index, prev_term)) return std::nullopt;
  const uint64_t last_new = prev_index + entries.size();
  // Skip entries we already have; append from the first conflict or gap.
  size_t i = 0;
  while (i < entries.size() &&
         MatchTerm(entries[i].index(), entries[i].term())) {
    ++i;
  }
  if (i < entries.size()) {
    RAFTKV_CHECK_GT(entries[i].index(), committed_);
    Append(std::vector<raftpb::Entry>(entries.begin() + i, entries.end()));
  }
  CommitTo(std::min(leader_commit, last_new));
  return last_new;
}

uint64_t RaftLog::Append(const std::vector<raftpb::Entry>& entries) {
  if (entries.empty()) return LastIndex();
  const uint64_t after = entries[0].index();
  RAFTKV_CHECK_GT(after, committed_);
  const uint64_t unstable_end = unstable_offset_ + unstable_entries_.size();
  if (after == unstable_end) {
    unstable_entries_.insert(unstable_entries_.end(), entries.begin(),
                             entries.end());
  } else if (after <= unstable_offset_) {
    // Replaces the unstable tail and part of the stored log; the driver's
    // write of these entries truncates the stored suffix.
    unstable_offset_ = after;
    unstable_entries_ = entries;
  } else {
    unstable_entries_.resize(after - unstable_offset_);
    unstable_entries_.insert(unstable_entries_.end(), entries.begin(),
                             entries.end());
  }
  return LastIndex();
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index,
                                                          uint64_t term) const {
  while (true) {
    auto t = Term(index);
    if (!t.ok()) return {index, 0};
    if (*t <= term || index == 0) return {index, *t};
    --index;
  }
}

void RaftLog::CommitTo(uint64_t index) {
  if (index <= committed_) return;
  RAFTKV_CHECK_LE(index, LastIndex());
  committed_ = index;
}

void RaftLog::AppliedTo(uint64_t index) {
  if (index <= applied_) return;
  RAFTKV_CHECK_LE(index, committed_);
  applied_ = index;
  applying_ = std::max(applying_, index);
}

uint64_t RaftLog::StableLastIndex() const {
  if (!unstable_entries_.empty()) return unstable_offset_ - 1;
  return LastIndex();
}

bool RaftLog::HasNextCommittedEntries() const {
  if (unstable_snapshot_) return false;
  const uint64_t lo = std::max(applying_, applied_) + 1;
  return lo <= std::min(committed_, StableLastIndex());
}

std::vector<raftpb::Entry> RaftLog::NextCommittedEntries(
    uint64_t max_bytes) const {
  std::vector<raftpb::Entry> out;
  if (!HasNextCommittedEntries()) return out;
  uint64_t next = std::max(applying_, applied_) + 1;
  const uint64_t hi = std::min(committed_, StableLastIndex());
  uint64_t bytes = 0;
  while (next <= hi) {
    auto batch = EntriesFrom(next, max_bytes);
    RAFTKV_CHECK(batch.ok());
    for (auto& e : *batch) {
      if (e.index() > hi) return out;
      bytes += e.ByteSizeLong();
      if (!out.empty() && bytes > max_bytes) return out;
      next = e.index() + 1;
      out.push_back(std::move(e));
    }
  }
  return out;
}

void RaftLog::Restore(const raftpb::Snapshot& snapshot) {
  committed_ = snapshot.metadata().index();
  unstable_offset_ = committed_ + 1;
  unstable_entries_.clear();
  unstable_snapshot_ = snapshot;
}

void RaftLog::StableTo(uint64_t index, uint64_t term) {
  if (index < unstable_offset_) return;
  const uint64_t pos = index - unstable_offset_;
  if (pos >= unstable_entries_.size()) return;
  if (unstable_entries_[pos].term() != term) return;  // overwritten since
  unstable_entries_.erase(unstable_entries_.begin(),
                          unstable_entries_.begin() + pos + 1);
  unstable_offset_ = index + 1;
}

void RaftLog::StableSnapTo(uint64_t index) {
  if (unstable_snapshot_ && unstable_snapshot_->metadata().index() == index) {
    unstable_snapshot_.reset();
  }
}

}  // namespace raftkv::raft
