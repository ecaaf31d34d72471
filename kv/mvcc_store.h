// MvccStore: etcd v3's MVCC key-value store on LevelDB, and the Raft state
// machine of raftkv. Writes arrive only through Apply(), in Raft log order,
// in batches of committed entries; each batch becomes ONE leveldb::WriteBatch
// that also records the last applied Raft index, so the data and the applied
// index can never disagree after a crash (the WAL replays only the tail
// above applied_index()). Reads run on LevelDB snapshots at any uncompacted
// revision. See key_layout.h for the persistent format and docs/mvcc.md for
// the guarantees and the tests that prove them.
//
// Thread safety: all methods are thread-safe. Apply() and CompactStep() are
// writers and are serialized by `write_mu_` (the node has one apply thread;
// CompactStep may run on a background thread). Readers (Range,
// ReadChanges, the accessors) take `mu_` shared only long enough to copy the
// revisions and take a LevelDB snapshot, then read without locks, so they
// never wait for a batch being executed, only for the short LevelDB write
// that publishes it. A writer holds `mu_` exclusively across that write and
// the matching update of the in-memory revisions, which is what makes every
// snapshot agree with the revisions read beside it.
// Lock order: write_mu_ before mu_.
#ifndef RAFTKV_KV_MVCC_STORE_H_
#define RAFTKV_KV_MVCC_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "kv/key_layout.h"
#include "kv/kvpb.pb.h"
#include "kv/mvccpb.pb.h"
#include "kv/read_view.h"
#include "kv/requestpb.pb.h"
#include "kv/validate.h"
#include "leveldb/db.h"
#include "leveldb/env.h"

namespace raftkv::kv {

struct MvccOptions {
  // LevelDB environment; nullptr means leveldb::Env::Default(). Tests pass
  // leveldb::NewMemEnv().
  leveldb::Env* env = nullptr;
  // fsync every batch. Off by default: the Raft WAL is the durability source
  // and replays entries above applied_index() after a crash.
  bool sync = false;
  // etcd's --max-txn-ops.
  int64_t max_txn_ops = kDefaultMaxTxnOps;
  // Keys whose current meta (create/mod revision, version, lease) the
  // writer keeps in memory, so that a put need not read it from LevelDB.
  // When full the cache starts over. 0 turns it off.
  size_t meta_cache_entries = 1 << 18;
};

// One committed Raft entry for the state machine. The request pointers are
// borrowed for the duration of Apply().
struct ApplyCommand {
  using Request = std::variant<
      std::monostate,  // an entry with no kv effect
      const etcdserverpb::PutRequest*, const etcdserverpb::DeleteRangeRequest*,
      const etcdserverpb::TxnRequest*, const etcdserverpb::CompactionRequest*,
      const kvpb::LeaseGrant*, const kvpb::LeaseRevoke*,
      const kvpb::LeaseCheckpoint*, const kvpb::AlarmChange*>;
  uint64_t raft_index = 0;
  Request request;
};

using ApplyResponse =
    std::variant<std::monostate, etcdserverpb::PutResponse,
                 etcdserverpb::DeleteRangeResponse, etcdserverpb::TxnResponse,
                 etcdserverpb::CompactionResponse, kvpb::LeaseResult,
                 kvpb::AlarmResult>;

// A slice of the change log, for watchers.
struct ChangeBatch {
  // Events in (revision, sub revision) order.
  std::vector<mvccpb::Event> events;
  // The first revision not covered by `events`: resume from here.
  int64_t next_revision = 0;
};

class MvccStore {
 public:
  // Opens (creating if missing) the store in directory `dir`, restoring the
  // revision, compact revision and applied index. A fresh store is at
  // revision 1 with applied index 0.
  static absl::StatusOr<std::unique_ptr<MvccStore>> Open(
      const std::string& dir, const MvccOptions& options);

  ~MvccStore();
  MvccStore(const MvccStore&) = delete;
  MvccStore& operator=(const MvccStore&) = delete;

  // The current revision, the compacted revision (0 if never compacted) and
  // the last applied Raft index.
  int64_t revision() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t compact_revision() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t applied_index() const ABSL_LOCKS_EXCLUDED(mu_);

  // Applies committed entries in order as one atomic LevelDB write that also
  // records the last entry's index as applied_index(). Entries at or below
  // applied_index() were applied before (WAL replay) and are skipped with a
  // std::monostate response. Returns one result per command: the response,
  // or the request's expected error (etcd's message; the entry then changes
  // nothing). The outer status is a storage failure: nothing of the batch
  // was applied, and the store refuses further writes (fail closed).
  // REQUIRES: raft_index strictly increases along `commands`.
  absl::StatusOr<std::vector<absl::StatusOr<ApplyResponse>>> Apply(
      absl::Span<const ApplyCommand> commands)
      ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // etcd's Range on a consistent snapshot. Errors: EmptyKeyError,
  // FutureRevError, CompactedError. `stats` (optional) counts the work.
  absl::StatusOr<etcdserverpb::RangeResponse> Range(
      const etcdserverpb::RangeRequest& req, ReadStats* stats = nullptr) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Events with from_rev <= revision <= min(to_rev, revision()). Stops at
  // the first revision boundary once `limit` events are read (0: no limit),
  // so a revision's events are never split across batches. prev_kv is filled
  // when requested and not compacted away. Errors: CompactedError if
  // from_rev < compact_revision().
  absl::StatusOr<ChangeBatch> ReadChanges(int64_t from_rev, int64_t to_rev,
                                          size_t limit, bool prev_kv) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Physically removes history below compact_revision(), examining at most
  // `max_changes` change-log entries in one LevelDB write. Returns true when
  // nothing is left to remove. Reads are unaffected either way: revisions
  // below compact_revision() are already refused.
  absl::StatusOr<bool> CompactStep(size_t max_changes)
      ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // Every raised alarm (kv/alarms.h), in (type, member) order.
  absl::StatusOr<std::vector<kvpb::AlarmMember>> Alarms() const;

  // Rewrites LevelDB's tables over the whole key range (leveldb's
  // CompactRange), dropping deleted and overwritten entries: etcd's
  // Defragment. Blocks the caller for as long as it takes, but neither
  // readers nor Apply wait for it (LevelDB compacts on its own thread and
  // keeps serving). Thread-safe; call it from a thread that may block.
  void CompactRange() const;

  // Every lease record, in ID order (the lessor rebuilds from it).
  absl::StatusOr<std::vector<kvpb::LeaseRecord>> Leases() const;
  // The keys attached to lease `id`, in key order.
  absl::StatusOr<std::vector<std::string>> LeaseKeys(int64_t id) const;

  // Makes every batch applied so far durable (one synced LevelDB write, even
  // when MvccOptions::sync is off) and returns the applied index it covers.
  absl::StatusOr<uint64_t> Sync() ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // A consistent view of the raw LevelDB contents (data and meta keys
  // alike), from which a snapshot copy for a follower is read. The store
  // must outlive the view.
  std::unique_ptr<ReadView> RawSnapshot() const;

  // etcd's HashKV: a checksum of the key-value history as of `rev` (0 =
  // the current revision) that readers at uncompacted revisions can see:
  // every version with compact < revision <= rev, plus each key's newest
  // version at or below the compact revision if it is not a tombstone. It
  // depends only on the logical history, not on how far physical
  // compaction has got, so members that applied the same entries agree.
  // Errors: OUT_OF_RANGE "mvcc: required revision has been compacted" for
  // 0 < rev <= compact, "mvcc: required revision is a future revision" for
  // rev > current.
  struct HashKvResult {
    uint32_t hash = 0;
    int64_t revision = 0;          // the store's current revision
    int64_t compact_revision = 0;  // as of the same snapshot
    int64_t hash_revision = 0;     // the revision hashed (rev, or current)
  };
  absl::StatusOr<HashKvResult> HashKV(int64_t rev) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Approximate bytes of LevelDB's tables over the whole key range (not the
  // memtable, whose writes are still in LevelDB's log file). Obsolete
  // versions count until LevelDB compacts them away.
  int64_t ApproximateSize() const;

 private:
  struct Revisions {
    int64_t current = 1;
    int64_t compact = 0;
    uint64_t applied_index = 0;
  };

  MvccStore(std::unique_ptr<leveldb::DB> db, const MvccOptions& options,
            const Revisions& revisions, layout::ChangeKeyParts compact_cursor,
            int64_t compacted_through);

  // A snapshot plus the revisions it shows.
  std::unique_ptr<SnapshotView> Snapshot(Revisions* revisions) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Publishes `batch` and the revisions it moves the store to.
  absl::Status Commit(leveldb::WriteBatch* batch, const Revisions& next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) ABSL_LOCKS_EXCLUDED(mu_);

  const MvccOptions options_;
  const std::unique_ptr<leveldb::DB> db_;

  // Serializes writers (Apply, CompactStep).
  mutable absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Invariant: a storage error is sticky; once set, writes fail with it.
  absl::Status write_error_ ABSL_GUARDED_BY(write_mu_);
  // Invariant: compact_cursor_.main <= revisions_.compact; the change log
  // below it is physically compacted (for compacted_through_'s target, or
  // the current target if a round is in progress).
  layout::ChangeKeyParts compact_cursor_ ABSL_GUARDED_BY(write_mu_);
  // The compact revision whose physical compaction finished (0 if none).
  int64_t compacted_through_ ABSL_GUARDED_BY(write_mu_);
  // Invariant: each entry equals what the latest committed batch left under
  // that raw current-key ("c" + key): its meta, or nullopt if absent.
  MetaCache meta_cache_ ABSL_GUARDED_BY(write_mu_);

  mutable absl::Mutex mu_;
  // Invariant: equals the "m/" entries of the latest committed batch.
  Revisions revisions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_MVCC_STORE_H_
