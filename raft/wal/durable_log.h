// DurableLog: the Raft log on disk, implementing raft::Storage.
//
// The driver writes what a Ready asks for through Save / ApplySnapshot; the
// core reads through the Storage interface. Files live in one directory:
//
//   <dir>/<seq:016x>.wal       segments, written in seq order (record.h)
//   <dir>/<seq:016x>.wal.tmp   a segment being created; deleted on Open
//
// Segments are preallocated to Options::segment_bytes; a batch that does not
// fit in the current one rolls over to a new segment: the old one is
// truncated to its data and synced, the new one is written under a .tmp name
// (header, snapshot metadata, hard state), synced, renamed and the directory
// synced. So every segment but the last is complete, and a crash during the
// roll-over leaves only a .tmp file, which Open removes.
//
// In memory: for every held entry its term and file position (32 bytes per
// entry); Term() is O(1); Entries() reads the records back with pread and
// re-checks their CRC. Entries are not cached (the OS page cache holds the
// recent tail). The snapshot's data is not stored here: the state machine is
// the snapshot, and GetSnapshot() returns metadata only.
//
// Recovery (Open) replays all segments in order. In the last segment, an
// unreadable record with no valid record after it is a torn write from a
// crash: it and everything after it are truncated. Any other unreadable
// record, a missing entry range not covered by the snapshot, or a bad
// segment header fails Open with absl::DataLossError naming file and offset.
//
// Failure: a failed write, sync, roll-over or truncate puts the log into a
// failed state: that call and every later write return the error, and the
// in-memory state reflects only what was written before (fail closed). Open
// a new DurableLog to recover.
//
// Thread safety: none. The single driver thread that runs the core both
// reads and writes, as with MemoryStorage.
#ifndef RAFTKV_RAFT_WAL_DURABLE_LOG_H_
#define RAFTKV_RAFT_WAL_DURABLE_LOG_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/storage.h"
#include "raft/wal/env.h"
#include "raft/wal/record.h"

namespace raftkv::raft::wal {

struct Options {
  // Preallocated size of a segment; a segment grows beyond it only when a
  // single record does not fit in an empty segment.
  uint64_t segment_bytes = 64ull << 20;
};

class DurableLog : public Storage {
 public:
  // Opens (creating if needed) the log in `dir` and recovers it (see top of
  // file). `env` must outlive the log.
  static absl::StatusOr<std::unique_ptr<DurableLog>> Open(Env* env,
                                                          std::string dir,
                                                          Options options);
  ~DurableLog() override;
  DurableLog(const DurableLog&) = delete;
  DurableLog& operator=(const DurableLog&) = delete;

  // Storage. Entries() may also return an I/O or DataLoss error.
  absl::StatusOr<InitialState> GetInitialState() const override;
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const override;
  absl::StatusOr<uint64_t> Term(uint64_t index) const override;
  uint64_t FirstIndex() const override { return first_index_; }
  uint64_t LastIndex() const override {
    return first_index_ + locs_.size() - 1;
  }
  absl::StatusOr<Snapshot> GetSnapshot() const override;

  const HardState& hard_state() const { return hard_state_; }

  // Appends `entries` (dropping first any stored suffix that conflicts with
  // them; entries at or below the snapshot index are ignored), then `hs` if
  // not null, with one fdatasync covering all of it when `sync` (group
  // commit; a roll-over inside the call adds the roll-over's syncs).
  // REQUIRES: entries are contiguous, entries[0].index <= LastIndex() + 1.
  absl::Status Save(const HardState* hs, const std::vector<Entry>& entries,
                    bool sync);

  // Replaces the whole log with a snapshot received from a leader. Returns
  // ErrCompacted (changing nothing) unless meta.index() > the current
  // snapshot index. With sync == false, a later Save(..., true) or Sync()
  // makes it durable (Ready order: snapshot, entries, hard state, one sync).
  absl::Status ApplySnapshot(const raftpb::SnapshotMetadata& meta, bool sync);

  // Records a snapshot of the local state machine at `index` and discards
  // the entries up to it; releases segments wholly below it. Syncs.
  // Returns ErrCompacted unless index > the current snapshot index, and
  // InvalidArgument if index > LastIndex() (as MemoryStorage does).
  absl::Status CreateSnapshot(uint64_t index, const ConfState& conf_state);

  // CreateSnapshot at `index` keeping the current ConfState.
  absl::Status Compact(uint64_t index);

  // Sets the membership reported by GetInitialState (bootstrap). Syncs.
  absl::Status SetConfState(const ConfState& conf_state);

  // Makes everything written so far durable.
  absl::Status Sync();

  // OK, or the error that put the log into the failed state.
  const absl::Status& status() const { return failed_; }

 private:
  // Where an entry's record is. Invariant: locs_[i] is entry first_index_+i.
  struct Loc {
    uint64_t term = 0;
    uint64_t seq = 0;     // segment
    uint64_t offset = 0;  // of the record header
    uint64_t size = 0;    // payload bytes (== Entry::ByteSizeLong())
  };
  struct Segment {
    std::string path;
    std::unique_ptr<RandomAccessFile> reader;
  };
  struct OutRecord {
    RecordType type;
    std::string payload;
  };
  DurableLog(Env* env, std::string dir, Options options);

  std::string SegmentPath(uint64_t seq, bool tmp) const;
  // Recovery (durable_log_recovery.cc).
  absl::Status Recover();
  // Replays one segment's records; *valid_end is where its valid records
  // end (the torn tail, if any, starts there); *records counts them.
  absl::Status ReplaySegment(uint64_t seq, bool is_last, uint64_t* valid_end,
                             int* records);
  absl::Status ReplayRecord(const std::string& path, uint64_t seq,
                            const Record& record);
  absl::Status OpenForAppend(uint64_t seq, uint64_t end);

  // Writes `records` (rolling over as needed) and syncs when `sync`; on
  // success fills locs[i] with where records[i] went. On failure enters the
  // failed state.
  absl::Status Write(const std::vector<OutRecord>& records, bool sync,
                     std::vector<Loc>* locs);
  absl::Status WriteUnchecked(const std::vector<OutRecord>& records, bool sync,
                              std::vector<Loc>* locs);
  absl::Status RollOver();
  absl::Status CreateSegment(uint64_t seq);
  absl::Status SyncUnchecked();
  absl::Status ReleaseSegments();
  absl::Status Fail(absl::Status s);
  absl::Status SnapshotRecord(RecordType type,
                              const raftpb::SnapshotMetadata& meta, bool sync);

  // In-memory effects of records, shared by writing and replay.
  // ApplyEntry REQUIRES: index <= LastIndex() + 1 (replay checks this).
  void ApplyEntry(uint64_t index, const Loc& loc);
  void ApplyCompact(const raftpb::SnapshotMetadata& meta);
  void ApplyReplace(const raftpb::SnapshotMetadata& meta);

  Env* const env_;
  const std::string dir_;
  const Options options_;

  raftpb::SnapshotMetadata snapshot_;
  HardState hard_state_;
  // Invariant (outside replay): first_index_ == snapshot_.index() + 1.
  uint64_t first_index_ = 1;
  std::deque<Loc> locs_;

  // Invariant: non-empty after Open; the last is the one being written.
  std::map<uint64_t, Segment> segments_;
  std::unique_ptr<WritableFile> writer_;
  uint64_t write_offset_ = 0;         // end of written data in the last segment
  bool segment_has_records_ = false;  // beyond the opening records
  bool unsynced_ = false;             // written since the last sync
  absl::Status failed_;               // OK until a write fails
};

}  // namespace raftkv::raft::wal

#endif  // RAFTKV_RAFT_WAL_DURABLE_LOG_H_
