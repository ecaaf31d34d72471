// DurableLog::Open: replays the segments and repairs a torn tail. The rules
// are at the top of durable_log.h; tests/wal/recovery_test.cc proves them.
#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "raft/check.h"
#include "raft/wal/durable_log.h"

namespace raftkv::raft::wal {
namespace {

constexpr std::string_view kSuffix = ".wal";
constexpr std::string_view kTmpSuffix = ".wal.tmp";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}
constexpr int kOpeningRecords = 3;  // header, snapshot metadata, hard state

// The seq of a segment file name "<16 hex digits>.wal", or 0 if it is not
// one (seqs start at 1).
uint64_t ParseSegmentName(std::string_view name) {
  if (name.size() != 16 + kSuffix.size() || !EndsWith(name, kSuffix)) {
    return 0;
  }
  uint64_t seq = 0;
  if (!absl::SimpleHexAtoi(std::string(name.substr(0, 16)), &seq)) return 0;
  return seq;
}

absl::Status Corrupt(const std::string& path, uint64_t offset,
                     std::string_view what) {
  return absl::DataLossError(
      absl::StrCat(path, ": ", std::string(what), " at offset ", offset));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DurableLog>> DurableLog::Open(Env* env,
                                                             std::string dir,
                                                             Options options) {
  RAFTKV_CHECK_GT(options.segment_bytes, uint64_t{0});
  std::unique_ptr<DurableLog> log(new DurableLog(env, std::move(dir), options));
  absl::Status s = log->Recover();
  if (!s.ok()) return s;
  return log;
}

absl::Status DurableLog::Recover() {
  absl::Status s = env_->CreateDir(dir_);
  if (!s.ok()) return s;
  auto names = env_->ListDir(dir_);
  if (!names.ok()) return names.status();
  std::vector<uint64_t> seqs;
  for (const std::string& name : *names) {
    if (EndsWith(name, kTmpSuffix)) {
      // An unfinished roll-over: never renamed, so it holds nothing that was
      // reported durable.
      s = env_->Remove(absl::StrCat(dir_, "/", name));
      if (!s.ok()) return s;
    } else if (uint64_t seq = ParseSegmentName(name); seq != 0) {
      seqs.push_back(seq);
    }
  }
  std::sort(seqs.begin(), seqs.end());
  if (seqs.empty()) return CreateSegment(1);

  uint64_t valid_end = 0;
  int records = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    s = ReplaySegment(seqs[i], i + 1 == seqs.size(), &valid_end, &records);
    if (!s.ok()) return s;
  }
  if (first_index_ != snapshot_.index() + 1) {
    return absl::DataLossError(
        absl::StrCat(dir_, ": entries ", snapshot_.index() + 1, " to ",
                     first_index_ - 1, " are missing (a segment was lost)"));
  }
  s = OpenForAppend(seqs.back(), valid_end);
  if (!s.ok()) return s;
  segment_has_records_ = records > kOpeningRecords;
  return absl::OkStatus();
}

absl::Status DurableLog::ReplaySegment(uint64_t seq, bool is_last,
                                       uint64_t* valid_end, int* records) {
  const std::string path = SegmentPath(seq, /*tmp=*/false);
  auto reader = env_->OpenReadable(path);
  if (!reader.ok()) return reader.status();
  auto size = env_->FileSize(path);
  if (!size.ok()) return size.status();
  std::string buf;
  absl::Status s = (*reader)->Read(0, *size, &buf);
  if (!s.ok()) return s;
  segments_[seq] = Segment{path, std::move(*reader)};

  Record record;
  SegmentHeader header;
  if (!ParseRecordAt(buf, 0, &record) ||
      record.type != RecordType::kSegmentHeader ||
      !DecodeSegmentHeader(record.payload, &header) || header.seq != seq) {
    return Corrupt(path, 0, "bad segment header");
  }
  uint64_t offset = kHeaderSize + record.payload.size();
  *records = 1;
  while (offset < buf.size()) {
    if (!ParseRecordAt(buf, offset, &record)) {
      // A torn write leaves garbage and zeros, but no valid record, after
      // the last good one; anything else is corruption of synced data.
      if (is_last && !AnyRecordAfter(buf, offset)) break;
      return Corrupt(path, offset, "corrupt record");
    }
    s = ReplayRecord(path, seq, record);
    if (!s.ok()) return s;
    offset += kHeaderSize + record.payload.size();
    ++*records;
  }
  *valid_end = offset;
  return absl::OkStatus();
}

absl::Status DurableLog::ReplayRecord(const std::string& path, uint64_t seq,
                                      const Record& record) {
  const auto* data = record.payload.data();
  const int size = static_cast<int>(record.payload.size());
  raftpb::SnapshotMetadata meta;
  switch (record.type) {
    case RecordType::kEntry: {
      Entry entry;
      if (!entry.ParseFromArray(data, size)) break;
      const uint64_t index = entry.index();
      if (index <= snapshot_.index()) return absl::OkStatus();
      if (index < first_index_ || index > LastIndex() + 1) {
        // Entries between the snapshot and `index` were in a released
        // segment; a later snapshot record must cover them (checked at
        // the end of Recover).
        locs_.clear();
        first_index_ = index;
      }
      ApplyEntry(index,
                 Loc{entry.term(), seq, record.offset, record.payload.size()});
      return absl::OkStatus();
    }
    case RecordType::kHardState:
      if (!hard_state_.ParseFromArray(data, size)) break;
      return absl::OkStatus();
    case RecordType::kSnapshot:
      if (!meta.ParseFromArray(data, size)) break;
      ApplyReplace(meta);
      return absl::OkStatus();
    case RecordType::kCompact:
      if (!meta.ParseFromArray(data, size)) break;
      ApplyCompact(meta);
      return absl::OkStatus();
    case RecordType::kConfState:
      if (!snapshot_.mutable_conf_state()->ParseFromArray(data, size)) break;
      return absl::OkStatus();
    default:
      break;
  }
  return Corrupt(path, record.offset, "unexpected or unparsable record");
}

absl::Status DurableLog::OpenForAppend(uint64_t seq, uint64_t end) {
  // Cut off a torn tail durably before writing after it, then preallocate
  // again (Truncate also dropped the zero-filled reserve).
  auto file = env_->OpenWritable(SegmentPath(seq, /*tmp=*/false), end);
  if (!file.ok()) return file.status();
  absl::Status s = (*file)->Truncate(end);
  if (s.ok()) s = (*file)->Preallocate(options_.segment_bytes);
  if (s.ok()) s = (*file)->Sync();
  if (!s.ok()) return s;
  writer_ = std::move(*file);
  write_offset_ = end;
  return absl::OkStatus();
}

}  // namespace raftkv::raft::wal
