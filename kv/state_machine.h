// StateMachine: raftkv's replicated state machine, as the Raft node driver
// sees it (raft::Application). It decodes committed entries — kvpb
// InternalRequests and membership changes — applies each batch to the
// MvccStore as one LevelDB write, answers the member that proposed each
// request, and handles snapshots (a point-in-time copy of the whole store).
//
// Thread safety: Apply and InstallSnapshot run on the node's apply thread;
// every other method is thread-safe. The store may be swapped by
// InstallSnapshot, so readers hold it through store(), a shared_ptr.
#ifndef RAFTKV_KV_STATE_MACHINE_H_
#define RAFTKV_KV_STATE_MACHINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kv/alarms.h"
#include "kv/lessor.h"
#include "kv/members.h"
#include "kv/mvcc_store.h"
#include "kv/quota.h"
#include "kv/requestpb.pb.h"
#include "raft/node/node.h"

namespace raftkv::kv {

// The outcome of one applied request, delivered to the member that
// proposed it.
using ApplyResult = absl::StatusOr<ApplyResponse>;
using ResultCallback = std::function<void(const ApplyResult&)>;

// Callbacks waiting for requests (by id) to be applied.
// Thread safety: thread-safe; callbacks run without the lock held.
class ResultRouter {
 public:
  void Register(uint64_t id, ResultCallback cb);
  // Removes a waiter; returns it (empty if the result already went out).
  ResultCallback Take(uint64_t id);

 private:
  absl::Mutex mu_;
  std::map<uint64_t, ResultCallback> waiting_ ABSL_GUARDED_BY(mu_);
};

class StateMachine : public raft::Application {
 public:
  // Opens (or creates) the store under <dir>/store and the member registry
  // (<dir>/members.pb, starting from `initial_members`).
  static absl::StatusOr<std::unique_ptr<StateMachine>> Open(
      const std::string& dir, const MvccOptions& options,
      const kvpb::MemberList& initial_members);
  ~StateMachine() override;

  // The current store. Hold the pointer only for the duration of a read.
  // Never null: while a snapshot is being installed, waits for the new store
  // (if the install fails after closing the old one, the node stops and this
  // blocks).
  std::shared_ptr<MvccStore> store() const;
  Members& members() { return *members_; }
  Lessor& lessor() { return lessor_; }
  ResultRouter& results() { return results_; }
  // The raised alarms as of the last applied entry (kv/alarms.h).
  const Alarms& alarms() const { return alarms_; }
  uint64_t applied_index() const;
  // Bytes of the store's files on disk (<dir>/store: LevelDB tables, log
  // and manifest, not LevelDB's text LOG), etcd's "dbSize" and what the
  // quota is measured against; the WAL is not included, as in etcd.
  int64_t DiskSize() const;
  // etcd's "dbSizeInUse": LevelDB's table bytes over the key range plus its
  // log of writes not yet in a table, at most DiskSize(). Space that a
  // compaction freed counts until Defragment (or LevelDB's own background
  // compaction) rewrites the tables.
  int64_t SizeInUse() const;

  // etcd's Defragment: finishes the physical compaction of history below
  // the compact revision, then has LevelDB rewrite its tables over the
  // whole range (MvccStore::CompactRange), so the space is returned to the
  // file system. Blocks the caller until done; reads and applies go on
  // meanwhile (it holds no lock of the apply path). Holding the store, it
  // delays a snapshot install until it is done (InstallSnapshot waits up
  // to 60 s). Thread-safe; call it from a thread that may block, never the
  // apply thread.
  absl::Status Defragment();

  // The backend quota (kv/quota.h), measured against DiskSize(): `bytes`
  // as --quota-backend-bytes (negative: none; 0, or never called: etcd's
  // 2 GiB). Call before the node starts.
  void SetQuota(int64_t bytes);
  std::shared_ptr<const BackendQuota> quota() const;
  // `fn` runs on the apply thread after a batch of applied writes that
  // leaves this member's store at or over the quota: etcd's apply-time
  // check, upon which each member raises NOSPACE for itself. It must be
  // quick (propose, do not wait).
  void SetQuotaObserver(std::function<void()> fn);

  // Runs fn once the state machine has applied `index`: at once (on this
  // thread) if it already has, else on the apply thread — fn must be quick.
  void OnApplied(uint64_t index, std::function<void()> fn);

  // The watch hub's feed: `fn` runs on the apply thread with the store's
  // revision after each applied batch and after a snapshot install. It must
  // be quick and never block. Set it before the node starts.
  void SetRevisionObserver(std::function<void(int64_t revision)> fn);

  // The member wiring's feed: `fn` runs on the apply thread with the member
  // list after each applied membership change and after a snapshot install
  // (which may carry several). It must be quick. Set it before the node
  // starts.
  void SetMembershipObserver(std::function<void(const kvpb::MemberList&)> fn);

  // The corruption monitor's feed: `fn` runs on the apply thread with the
  // new compact revision after each applied compaction. It must be quick.
  void SetCompactionObserver(std::function<void(int64_t)> fn);

  // raft::Application
  absl::Status Apply(const std::vector<raftpb::Entry>& entries) override;
  absl::Status InstallSnapshot(const raftpb::SnapshotMetadata& meta) override;
  absl::StatusOr<uint64_t> SyncApplied() override;
  absl::StatusOr<std::unique_ptr<raft::SnapshotSource>> OpenSnapshot() override;
  absl::StatusOr<std::unique_ptr<raft::SnapshotSink>> BeginSnapshot(
      const raftpb::Message& m) override;

 private:
  StateMachine(std::string dir, const MvccOptions& options,
               std::shared_ptr<MvccStore> store,
               std::unique_ptr<Members> members);
  absl::Status ApplyConfChange(const raftpb::Entry& e);
  void UpdateLessor(const kvpb::InternalRequest& r);
  // Tells the quota observer if a write of `cost` would not fit now.
  void CheckQuota(int64_t cost);
  // Loads the alarms persisted in `store` into alarms_.
  absl::Status LoadAlarms(const MvccStore& store);
  void PublishApplied(uint64_t index);
  void NotifyMembership();
  void RunCompactor();

  const std::string dir_;
  const MvccOptions options_;
  std::unique_ptr<Members> members_;
  Lessor lessor_;
  ResultRouter results_;
  // Invariant: equals the alarms persisted in the store as of applied_.
  Alarms alarms_;

  mutable absl::Mutex mu_;
  std::shared_ptr<MvccStore> store_ ABSL_GUARDED_BY(mu_);
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  std::multimap<uint64_t, std::function<void()>> applied_waiters_
      ABSL_GUARDED_BY(mu_);
  std::function<void(int64_t)> revision_observer_ ABSL_GUARDED_BY(mu_);
  std::function<void(const kvpb::MemberList&)> membership_observer_
      ABSL_GUARDED_BY(mu_);
  std::function<void(int64_t)> compaction_observer_ ABSL_GUARDED_BY(mu_);
  std::function<void()> quota_observer_ ABSL_GUARDED_BY(mu_);
  // Invariant: never null.
  std::shared_ptr<const BackendQuota> quota_ ABSL_GUARDED_BY(mu_);
  // Physical compaction runs on its own thread, in bounded steps, off the
  // apply path (DESIGN.md: no latency spikes from compaction).
  bool compaction_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread compactor_;
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_STATE_MACHINE_H_
