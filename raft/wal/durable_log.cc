// DurableLog: reads, writes and segment management. Recovery (Open) is in
// durable_log_recovery.cc.
#include "raft/wal/durable_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "raft/check.h"

namespace raftkv::raft::wal {

DurableLog::DurableLog(Env* env, std::string dir, Options options)
    : env_(env), dir_(std::move(dir)), options_(options) {}

DurableLog::~DurableLog() {
  if (writer_ != nullptr) writer_->Close().IgnoreError();
}

std::string DurableLog::SegmentPath(uint64_t seq, bool tmp) const {
  return absl::StrFormat("%s/%016x.wal%s", dir_, seq, tmp ? ".tmp" : "");
}

// ---------------------------------------------------------------- reads

absl::StatusOr<InitialState> DurableLog::GetInitialState() const {
  return InitialState{hard_state_, snapshot_.conf_state()};
}

absl::StatusOr<uint64_t> DurableLog::Term(uint64_t index) const {
  if (index + 1 < first_index_) return ErrCompacted();
  if (index + 1 == first_index_) return snapshot_.term();
  if (index > LastIndex()) return ErrUnavailable();
  return locs_[index - first_index_].term;
}

absl::StatusOr<Snapshot> DurableLog::GetSnapshot() const {
  Snapshot snapshot;
  *snapshot.mutable_metadata() = snapshot_;
  return snapshot;
}

absl::StatusOr<std::vector<Entry>> DurableLog::Entries(
    uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  if (lo < first_index_) return ErrCompacted();
  if (hi > LastIndex() + 1) return ErrUnavailable();
  RAFTKV_CHECK_LE(lo, hi);
  // The size limit is decided from the index alone: Loc::size is the
  // entry's ByteSizeLong().
  uint64_t stop = lo;
  for (uint64_t total = 0; stop < hi; ++stop) {
    total += locs_[stop - first_index_].size;
    if (stop > lo && total > max_bytes) break;
  }
  std::vector<Entry> out;
  out.reserve(stop - lo);
  // Read runs of records that are adjacent in one segment with one pread.
  for (uint64_t begin = lo; begin < stop;) {
    const Loc& first = locs_[begin - first_index_];
    uint64_t end = begin + 1;
    uint64_t run_end = first.offset + kHeaderSize + first.size;
    while (end < stop) {
      const Loc& next = locs_[end - first_index_];
      if (next.seq != first.seq || next.offset != run_end) break;
      run_end += kHeaderSize + next.size;
      ++end;
    }
    const Segment& segment = segments_.at(first.seq);
    std::string buf;
    absl::Status s =
        segment.reader->Read(first.offset, run_end - first.offset, &buf);
    if (!s.ok()) return s;
    for (uint64_t i = begin; i < end; ++i) {
      const Loc& loc = locs_[i - first_index_];
      Record record;
      Entry& entry = out.emplace_back();
      if (!ParseRecordAt(buf, loc.offset - first.offset, &record) ||
          record.type != RecordType::kEntry ||
          !entry.ParseFromArray(record.payload.data(),
                                static_cast<int>(record.payload.size())) ||
          entry.index() != i) {
        return absl::DataLossError(absl::StrCat(
            segment.path, ": entry ", i, " unreadable at offset ", loc.offset));
      }
    }
    begin = end;
  }
  return out;
}

// ---------------------------------------------------------------- writes

absl::Status DurableLog::Save(const HardState* hs,
                              const std::vector<Entry>& entries, bool sync) {
  if (!failed_.ok()) return failed_;
  std::vector<OutRecord> records;
  std::vector<const Entry*> kept;
  for (const Entry& e : entries) {
    if (!kept.empty()) RAFTKV_CHECK_EQ(e.index(), kept.back()->index() + 1);
    if (e.index() <= snapshot_.index()) continue;
    if (kept.empty()) RAFTKV_CHECK_LE(e.index(), LastIndex() + 1);
    kept.push_back(&e);
    records.push_back({RecordType::kEntry, e.SerializeAsString()});
  }
  if (hs != nullptr) {
    records.push_back({RecordType::kHardState, hs->SerializeAsString()});
  }
  if (records.empty() && !sync) return absl::OkStatus();
  std::vector<Loc> locs;
  absl::Status s = Write(records, sync, &locs);
  if (!s.ok()) return s;
  for (size_t i = 0; i < kept.size(); ++i) {
    locs[i].term = kept[i]->term();
    ApplyEntry(kept[i]->index(), locs[i]);
  }
  if (hs != nullptr) hard_state_ = *hs;
  return ReleaseSegments();
}

absl::Status DurableLog::ApplySnapshot(const raftpb::SnapshotMetadata& meta,
                                       bool sync) {
  if (!failed_.ok()) return failed_;
  if (meta.index() <= snapshot_.index()) return ErrCompacted();
  return SnapshotRecord(RecordType::kSnapshot, meta, sync);
}

absl::Status DurableLog::CreateSnapshot(uint64_t index,
                                        const ConfState& conf_state) {
  if (!failed_.ok()) return failed_;
  if (index <= snapshot_.index()) return ErrCompacted();
  if (index > LastIndex()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "snapshot index ", index, " is past the last index ", LastIndex()));
  }
  raftpb::SnapshotMetadata meta;
  *meta.mutable_conf_state() = conf_state;
  meta.set_index(index);
  meta.set_term(locs_[index - first_index_].term);
  return SnapshotRecord(RecordType::kCompact, meta, /*sync=*/true);
}

absl::Status DurableLog::Compact(uint64_t index) {
  return CreateSnapshot(index, snapshot_.conf_state());
}

absl::Status DurableLog::SnapshotRecord(RecordType type,
                                        const raftpb::SnapshotMetadata& meta,
                                        bool sync) {
  std::vector<Loc> locs;
  absl::Status s = Write({{type, meta.SerializeAsString()}}, sync, &locs);
  if (!s.ok()) return s;
  if (type == RecordType::kSnapshot) {
    ApplyReplace(meta);
  } else {
    ApplyCompact(meta);
  }
  return ReleaseSegments();
}

absl::Status DurableLog::SetConfState(const ConfState& conf_state) {
  if (!failed_.ok()) return failed_;
  std::vector<Loc> locs;
  absl::Status s = Write(
      {{RecordType::kConfState, conf_state.SerializeAsString()}}, true, &locs);
  if (!s.ok()) return s;
  *snapshot_.mutable_conf_state() = conf_state;
  return absl::OkStatus();
}

absl::Status DurableLog::Sync() {
  if (!failed_.ok()) return failed_;
  absl::Status s = SyncUnchecked();
  if (!s.ok()) return Fail(std::move(s));
  return ReleaseSegments();
}

absl::Status DurableLog::Write(const std::vector<OutRecord>& records, bool sync,
                               std::vector<Loc>* locs) {
  if (!failed_.ok()) return failed_;
  absl::Status s = WriteUnchecked(records, sync, locs);
  if (!s.ok()) return Fail(std::move(s));
  return absl::OkStatus();
}

absl::Status DurableLog::WriteUnchecked(const std::vector<OutRecord>& records,
                                        bool sync, std::vector<Loc>* locs) {
  std::string buf;
  for (const OutRecord& record : records) {
    uint64_t size = kHeaderSize + record.payload.size();
    if (segment_has_records_ &&
        write_offset_ + buf.size() + size > options_.segment_bytes) {
      if (!buf.empty()) {
        unsynced_ = true;
        absl::Status s = writer_->Append(buf);
        if (!s.ok()) return s;
        write_offset_ += buf.size();
        buf.clear();
      }
      absl::Status s = RollOver();
      if (!s.ok()) return s;
    }
    locs->push_back({0, segments_.rbegin()->first, write_offset_ + buf.size(),
                     record.payload.size()});
    AppendRecord(record.type, record.payload, &buf);
    segment_has_records_ = true;
  }
  if (!buf.empty()) {
    unsynced_ = true;
    absl::Status s = writer_->Append(buf);
    if (!s.ok()) return s;
    write_offset_ += buf.size();
  }
  return sync ? SyncUnchecked() : absl::OkStatus();
}

absl::Status DurableLog::SyncUnchecked() {
  if (!unsynced_) return absl::OkStatus();
  absl::Status s = writer_->Sync();
  if (!s.ok()) return s;
  unsynced_ = false;
  return absl::OkStatus();
}

absl::Status DurableLog::Fail(absl::Status s) {
  failed_ = absl::Status(
      s.code(), absl::StrCat("wal: failed, no further writes: ", s.message()));
  return failed_;
}

// ------------------------------------------------------------- segments

absl::Status DurableLog::RollOver() {
  // The old segment must be complete and durable before the new one becomes
  // visible: recovery only tolerates a torn tail in the last segment.
  absl::Status s = writer_->Truncate(write_offset_);
  if (s.ok()) s = writer_->Sync();
  if (s.ok()) s = writer_->Close();
  if (!s.ok()) return s;
  writer_.reset();
  unsynced_ = false;
  return CreateSegment(segments_.rbegin()->first + 1);
}

absl::Status DurableLog::CreateSegment(uint64_t seq) {
  const std::string tmp = SegmentPath(seq, /*tmp=*/true);
  const std::string path = SegmentPath(seq, /*tmp=*/false);
  auto file = env_->OpenWritable(tmp, 0);
  if (!file.ok()) return file.status();
  std::string opening;
  AppendRecord(RecordType::kSegmentHeader,
               EncodeSegmentHeader({seq, LastIndex() + 1}), &opening);
  AppendRecord(RecordType::kCompact, snapshot_.SerializeAsString(), &opening);
  AppendRecord(RecordType::kHardState, hard_state_.SerializeAsString(),
               &opening);
  absl::Status s = (*file)->Truncate(0);  // a stale .tmp may exist
  if (s.ok()) s = (*file)->Preallocate(options_.segment_bytes);
  if (s.ok()) s = (*file)->Append(opening);
  if (s.ok()) s = (*file)->Sync();
  if (s.ok()) s = env_->Rename(tmp, path);
  if (s.ok()) s = env_->SyncDir(dir_);
  if (!s.ok()) return s;
  auto reader = env_->OpenReadable(path);
  if (!reader.ok()) return reader.status();
  segments_[seq] = Segment{path, std::move(*reader)};
  writer_ = std::move(*file);
  write_offset_ = opening.size();
  segment_has_records_ = false;
  return absl::OkStatus();
}

absl::Status DurableLog::ReleaseSegments() {
  // Only once everything written is durable: a segment is released because
  // of a snapshot record, which must survive a crash for the release to be
  // safe.
  if (unsynced_) return absl::OkStatus();
  const uint64_t keep =
      locs_.empty() ? segments_.rbegin()->first : locs_.front().seq;
  bool removed = false;
  while (segments_.begin()->first < keep) {
    absl::Status s = env_->Remove(segments_.begin()->second.path);
    if (!s.ok()) return Fail(std::move(s));
    segments_.erase(segments_.begin());
    removed = true;
  }
  if (!removed) return absl::OkStatus();
  absl::Status s = env_->SyncDir(dir_);
  if (!s.ok()) return Fail(std::move(s));
  return absl::OkStatus();
}

// ------------------------------------------------ in-memory record effects

void DurableLog::ApplyEntry(uint64_t index, const Loc& loc) {
  RAFTKV_CHECK_GE(index, first_index_);
  RAFTKV_CHECK_LE(index, LastIndex() + 1);
  locs_.resize(index - first_index_);
  locs_.push_back(loc);
}

void DurableLog::ApplyCompact(const raftpb::SnapshotMetadata& meta) {
  if (meta.index() < snapshot_.index()) return;  // stale (re-emitted) copy
  if (meta.index() + 1 <= first_index_) {
    // Nothing held at or below it (replay before a hole is closed).
  } else if (meta.index() >= LastIndex()) {
    locs_.clear();
    first_index_ = meta.index() + 1;
  } else {
    locs_.erase(locs_.begin(),
                locs_.begin() +
                    static_cast<ptrdiff_t>(meta.index() + 1 - first_index_));
    first_index_ = meta.index() + 1;
  }
  snapshot_ = meta;
}

void DurableLog::ApplyReplace(const raftpb::SnapshotMetadata& meta) {
  locs_.clear();
  first_index_ = meta.index() + 1;
  snapshot_ = meta;
}

}  // namespace raftkv::raft::wal
