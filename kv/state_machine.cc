#include "kv/state_machine.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kv/snapshot_copy.h"
#include "raft/raftpb.pb.h"

namespace raftkv::kv {
namespace fs = std::filesystem;

// Physical compaction work per step (change-log entries), so that one step
// holds the store's write lock only briefly.
constexpr size_t kCompactionStep = 1000;

namespace {

// etcd's log lines ("alarm NOSPACE raised by peer <id>", "alarm disarmed"):
// one per alarm that `after` adds to or removes from `before`.
void LogAlarmChanges(const AlarmSet& before, const AlarmSet& after) {
  auto log = [](const char* what, const AlarmSet& in, const AlarmSet& not_in) {
    for (const kvpb::AlarmMember& m : in.List()) {
      if (not_in.Contains(m.alarm(), m.member_id())) continue;
      std::fprintf(stderr, "raftkv: alarm %s %s by member %llx\n",
                   AlarmTypeName(m.alarm()).c_str(), what,
                   static_cast<unsigned long long>(m.member_id()));
    }
  };
  log("raised", after, before);
  log("disarmed", before, after);
}

}  // namespace

void ResultRouter::Register(uint64_t id, ResultCallback cb) {
  absl::MutexLock l(&mu_);
  waiting_[id] = std::move(cb);
}

ResultCallback ResultRouter::Take(uint64_t id) {
  absl::MutexLock l(&mu_);
  auto it = waiting_.find(id);
  if (it == waiting_.end()) return nullptr;
  ResultCallback cb = std::move(it->second);
  waiting_.erase(it);
  return cb;
}

absl::StatusOr<std::unique_ptr<StateMachine>> StateMachine::Open(
    const std::string& dir, const MvccOptions& options,
    const kvpb::MemberList& initial_members) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raftkv: cannot create data directory ", dir, ": ", ec.message()));
  }
  auto members = Members::Open(dir, initial_members);
  if (!members.ok()) return members.status();
  auto store = MvccStore::Open(dir + "/store", options);
  if (!store.ok()) return store.status();
  auto leases = (*store)->Leases();
  if (!leases.ok()) return leases.status();
  std::unique_ptr<StateMachine> sm(new StateMachine(
      dir, options, std::shared_ptr<MvccStore>(std::move(*store)),
      std::move(*members)));
  sm->lessor_.Reset(*leases);
  if (absl::Status s = sm->LoadAlarms(*sm->store()); !s.ok()) return s;
  return sm;
}

StateMachine::StateMachine(std::string dir, const MvccOptions& options,
                           std::shared_ptr<MvccStore> store,
                           std::unique_ptr<Members> members)
    : dir_(std::move(dir)),
      options_(options),
      members_(std::move(members)),
      store_(std::move(store)) {
  applied_ = store_->applied_index();
  quota_ =
      std::make_shared<const BackendQuota>(0, [this] { return DiskSize(); });
  compaction_pending_ = true;  // finish any interrupted physical compaction
  compactor_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "raftkv-compact");
    RunCompactor();
  });
}

StateMachine::~StateMachine() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  compactor_.join();
}

namespace {

// Sizes of the files in a LevelDB directory: all of them but LevelDB's text
// LOG (diagnostics, not data), and its write-ahead logs (*.log) alone.
struct DirSizes {
  int64_t total = 0;
  int64_t logs = 0;
};

DirSizes StoreFileSizes(const std::string& dir) {
  DirSizes sizes;
  std::error_code ec;
  // A snapshot install may swap the directory while we walk it: the error
  // ends the walk early and the size is approximate, which is all it claims.
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == "LOG" || name == "LOG.old") continue;
    std::error_code size_ec;
    const uintmax_t size =
        it->is_regular_file(size_ec) ? it->file_size(size_ec) : 0;
    if (size_ec) continue;
    sizes.total += static_cast<int64_t>(size);
    if (it->path().extension() == ".log") {
      sizes.logs += static_cast<int64_t>(size);
    }
  }
  return sizes;
}

}  // namespace

int64_t StateMachine::DiskSize() const {
  return StoreFileSizes(dir_ + "/store").total;
}

int64_t StateMachine::SizeInUse() const {
  const DirSizes sizes = StoreFileSizes(dir_ + "/store");
  return std::min(sizes.total, store()->ApproximateSize() + sizes.logs);
}

absl::Status StateMachine::Defragment() {
  for (;;) {
    auto done = store()->CompactStep(kCompactionStep);
    if (!done.ok()) return done.status();
    if (*done) break;
  }
  store()->CompactRange();
  quota()->Invalidate();
  return absl::OkStatus();
}

void StateMachine::SetQuota(int64_t bytes) {
  auto quota = std::make_shared<const BackendQuota>(
      bytes, [this] { return DiskSize(); });
  // etcd's start-up lines about its quota.
  if (!quota->enabled()) {
    std::fprintf(stderr, "raftkv: disabled backend quota\n");
  } else {
    if (quota->limit() > kMaxQuotaBytes) {
      std::fprintf(stderr,
                   "raftkv: quota exceeds the maximum value "
                   "(quota-size-bytes=%lld quota-maximum-size-bytes=%lld)\n",
                   static_cast<long long>(quota->limit()),
                   static_cast<long long>(kMaxQuotaBytes));
    }
    std::fprintf(stderr,
                 "raftkv: enabled backend quota (quota-size-bytes=%lld)\n",
                 static_cast<long long>(quota->limit()));
  }
  absl::MutexLock l(&mu_);
  quota_ = std::move(quota);
}

std::shared_ptr<const BackendQuota> StateMachine::quota() const {
  absl::MutexLock l(&mu_);
  return quota_;
}

void StateMachine::SetQuotaObserver(std::function<void()> fn) {
  absl::MutexLock l(&mu_);
  quota_observer_ = std::move(fn);
}

absl::Status StateMachine::LoadAlarms(const MvccStore& store) {
  auto alarms = store.Alarms();
  if (!alarms.ok()) return alarms.status();
  alarms_.Set(AlarmSet(*alarms));
  return absl::OkStatus();
}

void StateMachine::SetCompactionObserver(std::function<void(int64_t)> fn) {
  absl::MutexLock l(&mu_);
  compaction_observer_ = std::move(fn);
}

std::shared_ptr<MvccStore> StateMachine::store() const {
  absl::MutexLock l(&mu_);
  // InstallSnapshot takes the store away while it swaps directories; a
  // reader arriving then (an RPC's header, /metrics) waits for the new one
  // instead of dereferencing null (which crashed a follower catching up
  // through a snapshot while its /metrics was polled).
  mu_.Await(absl::Condition(
      +[](const std::shared_ptr<MvccStore>* s) { return *s != nullptr; },
      &store_));
  return store_;
}

uint64_t StateMachine::applied_index() const {
  absl::MutexLock l(&mu_);
  return applied_;
}

void StateMachine::OnApplied(uint64_t index, std::function<void()> fn) {
  {
    absl::MutexLock l(&mu_);
    if (applied_ < index) {
      applied_waiters_.emplace(index, std::move(fn));
      return;
    }
  }
  fn();
}

void StateMachine::SetRevisionObserver(std::function<void(int64_t)> fn) {
  absl::MutexLock l(&mu_);
  revision_observer_ = std::move(fn);
}

void StateMachine::PublishApplied(uint64_t index) {
  std::vector<std::function<void()>> ready;
  std::function<void(int64_t)> observer;
  {
    absl::MutexLock l(&mu_);
    if (index > applied_) applied_ = index;
    observer = revision_observer_;
    auto end = applied_waiters_.upper_bound(applied_);
    for (auto it = applied_waiters_.begin(); it != end; ++it) {
      ready.push_back(std::move(it->second));
    }
    applied_waiters_.erase(applied_waiters_.begin(), end);
  }
  // The watch hub first: it reads the new revisions on its own thread.
  if (observer) observer(store()->revision());
  for (auto& fn : ready) fn();
}

void StateMachine::SetMembershipObserver(
    std::function<void(const kvpb::MemberList&)> fn) {
  absl::MutexLock l(&mu_);
  membership_observer_ = std::move(fn);
}

void StateMachine::NotifyMembership() {
  std::function<void(const kvpb::MemberList&)> observer;
  {
    absl::MutexLock l(&mu_);
    observer = membership_observer_;
  }
  if (observer) observer(members_->List());
}

absl::Status StateMachine::ApplyConfChange(const raftpb::Entry& e) {
  raftpb::ConfChange cc;
  kvpb::ConfChangeContext ctx;
  if (!cc.ParseFromString(e.data())) return absl::OkStatus();
  if (!cc.context().empty() && !ctx.ParseFromString(cc.context())) {
    return absl::OkStatus();
  }
  for (const auto& change : cc.changes()) {
    absl::Status s;
    if (change.type() == raftpb::CONF_REMOVE_NODE) {
      s = members_->Remove(change.node_id());
    } else if (ctx.member().id() == change.node_id()) {
      kvpb::Member m = ctx.member();
      m.set_is_learner(change.type() == raftpb::CONF_ADD_LEARNER);
      s = members_->Upsert(m);
    } else if (members_->Contains(change.node_id())) {
      // Promotion of a learner: same member, now a voter.
      const kvpb::MemberList list = members_->List();
      for (auto m : list.members()) {
        if (m.id() != change.node_id()) continue;
        m.set_is_learner(change.type() == raftpb::CONF_ADD_LEARNER);
        s = members_->Upsert(m);
      }
    }
    if (!s.ok()) return s;
  }
  NotifyMembership();
  if (ResultCallback cb = results_.Take(ctx.request_id())) {
    cb(ApplyResponse(std::monostate()));
  }
  return absl::OkStatus();
}

absl::Status StateMachine::Apply(const std::vector<raftpb::Entry>& entries) {
  std::vector<kvpb::InternalRequest> requests(entries.size());
  std::vector<ApplyCommand> commands(entries.size());
  std::shared_ptr<MvccStore> store = this->store();
  const uint64_t store_applied = store->applied_index();
  // The alarms as each entry meets them: an alarm raised by entry i refuses
  // entry i+1 of the same batch, on every member alike.
  AlarmSet alarms = alarms_.Get();
  bool alarms_changed = false;
  std::vector<absl::Status> refused(entries.size());
  std::vector<kvpb::AlarmResult> alarm_results(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const raftpb::Entry& e = entries[i];
    commands[i].raft_index = e.index();
    if (e.index() <= store_applied) continue;  // in the store already
    if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
      if (absl::Status s = ApplyConfChange(e); !s.ok()) return s;
      continue;
    }
    if (e.data().empty() || !requests[i].ParseFromString(e.data())) continue;
    kvpb::InternalRequest& r = requests[i];
    refused[i] = alarms.Refusal(r);
    if (!refused[i].ok()) continue;  // applied as an entry with no effect
    switch (r.request_case()) {
      case kvpb::InternalRequest::kPut:
        commands[i].request = &r.put();
        break;
      case kvpb::InternalRequest::kDeleteRange:
        commands[i].request = &r.delete_range();
        break;
      case kvpb::InternalRequest::kTxn:
        commands[i].request = &r.txn();
        break;
      case kvpb::InternalRequest::kCompaction:
        commands[i].request = &r.compaction();
        break;
      case kvpb::InternalRequest::kLeaseGrant:
        commands[i].request = &r.lease_grant();
        break;
      case kvpb::InternalRequest::kLeaseRevoke:
        commands[i].request = &r.lease_revoke();
        break;
      case kvpb::InternalRequest::kLeaseCheckpoint:
        commands[i].request = &r.lease_checkpoint();
        break;
      case kvpb::InternalRequest::kAlarm:
        commands[i].request = &r.alarm();
        alarm_results[i] = alarms.Apply(r.alarm());
        alarms_changed |= r.alarm().action() != kvpb::AlarmChange::GET;
        break;
      case kvpb::InternalRequest::kPublish:
        if (absl::Status s = members_->Publish(r.publish()); !s.ok()) return s;
        break;
      default:
        break;
    }
  }
  auto results = store->Apply(commands);
  if (!results.ok()) return results.status();
  if (alarms_changed) LogAlarmChanges(alarms_.Get(), alarms);
  if (alarms_changed) alarms_.Set(alarms);
  bool compacted = false;
  int64_t largest_cost = 0;  // of the writes applied
  for (size_t i = 0; i < entries.size(); ++i) {
    ApplyResult& result = (*results)[i];
    if (!refused[i].ok()) {
      result = refused[i];
    } else if (requests[i].has_alarm()) {
      result = ApplyResponse(std::move(alarm_results[i]));
    }
    if (result.ok()) {
      UpdateLessor(requests[i]);
      largest_cost = std::max(largest_cost, QuotaCost(requests[i]));
    }
    if (requests[i].id() == 0) continue;
    compacted |= requests[i].has_compaction() && result.ok();
    if (ResultCallback cb = results_.Take(requests[i].id())) cb(result);
  }
  if (compacted) {
    std::function<void(int64_t)> observer;
    {
      absl::MutexLock l(&mu_);
      compaction_pending_ = true;
      observer = compaction_observer_;
    }
    if (observer) observer(store->compact_revision());
  }
  if (largest_cost > 0) CheckQuota(largest_cost);
  PublishApplied(entries.back().index());
  return absl::OkStatus();
}

void StateMachine::CheckQuota(int64_t cost) {
  std::shared_ptr<const BackendQuota> quota;
  std::function<void()> observer;
  {
    absl::MutexLock l(&mu_);
    quota = quota_;
    observer = quota_observer_;
  }
  if (observer && !quota->AvailableFor(cost)) observer();
}

void StateMachine::UpdateLessor(const kvpb::InternalRequest& r) {
  switch (r.request_case()) {
    case kvpb::InternalRequest::kLeaseGrant:
      lessor_.Granted(r.lease_grant().id(), r.lease_grant().ttl());
      break;
    case kvpb::InternalRequest::kLeaseRevoke:
      lessor_.Revoked(r.lease_revoke().id());
      break;
    case kvpb::InternalRequest::kLeaseCheckpoint:
      lessor_.Checkpointed(r.lease_checkpoint());
      break;
    default:
      break;
  }
}

absl::StatusOr<uint64_t> StateMachine::SyncApplied() { return store()->Sync(); }

absl::StatusOr<std::unique_ptr<raft::SnapshotSource>>
StateMachine::OpenSnapshot() {
  return NewSnapshotSource(store(), members_->List());
}

absl::StatusOr<std::unique_ptr<raft::SnapshotSink>> StateMachine::BeginSnapshot(
    const raftpb::Message& m) {
  (void)m;
  return NewSnapshotSink(dir_ + "/store.snap", dir_ + "/members.snap");
}

absl::Status StateMachine::InstallSnapshot(
    const raftpb::SnapshotMetadata& meta) {
  const std::string staged = dir_ + "/store.snap";
  if (!fs::exists(staged)) {
    return absl::DataLossError(absl::StrCat("raftkv: snapshot at index ",
                                            meta.index(),
                                            " has no staged copy in ", staged));
  }
  std::shared_ptr<MvccStore> old;
  {
    absl::MutexLock l(&mu_);
    old = std::move(store_);
  }
  // LevelDB writes new files by path: close the old store (after its last
  // reader is done) before its directory moves.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (old.use_count() > 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  if (old.use_count() > 1) {
    absl::MutexLock l(&mu_);
    store_ = std::move(old);  // readers must not wait for a store forever
    return absl::DeadlineExceededError(
        "raftkv: store still in use; cannot install snapshot");
  }
  old.reset();
  std::error_code ec;
  fs::remove_all(dir_ + "/store.old", ec);
  fs::rename(dir_ + "/store", dir_ + "/store.old", ec);
  if (!ec) fs::rename(staged, dir_ + "/store", ec);
  if (!ec) fs::rename(dir_ + "/members.snap", dir_ + "/members.pb", ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("raftkv: cannot install snapshot: ", ec.message()));
  }
  fs::remove_all(dir_ + "/store.old", ec);
  auto store = MvccStore::Open(dir_ + "/store", options_);
  if (!store.ok()) return store.status();
  if (absl::Status s = members_->Reload(); !s.ok()) return s;
  NotifyMembership();
  auto leases = (*store)->Leases();
  if (!leases.ok()) return leases.status();
  lessor_.Reset(*leases);
  if (absl::Status s = LoadAlarms(**store); !s.ok()) return s;
  const uint64_t applied = (*store)->applied_index();
  {
    absl::MutexLock l(&mu_);
    store_ = std::shared_ptr<MvccStore>(std::move(*store));
    compaction_pending_ = true;
  }
  PublishApplied(std::max<uint64_t>(applied, meta.index()));
  return absl::OkStatus();
}

void StateMachine::RunCompactor() {
  while (true) {
    {
      absl::MutexLock l(&mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || compaction_pending_;
      };
      mu_.Await(absl::Condition(&has_work));
      if (stopping_) return;
      compaction_pending_ = false;
    }
    bool done = false;
    while (!done) {
      {
        absl::MutexLock l(&mu_);
        if (stopping_) return;
      }
      auto step = store()->CompactStep(kCompactionStep);
      done = !step.ok() || *step;
    }
  }
}

}  // namespace raftkv::kv
