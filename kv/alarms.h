// Alarms: etcd's NOSPACE and CORRUPT alarms as replicated state, and the
// rules by which a raised alarm refuses requests at apply time (etcd's
// applierV3Capped and applierV3Corrupt, etcdserver/apply.go and corrupt.go).
//
// An alarm is (member id, type). Raising and disarming go through Raft as a
// kvpb::AlarmChange; MvccStore::Apply persists each change under
// layout::AlarmKey in the same LevelDB batch as the entry's applied index,
// so alarms survive a restart and travel with a snapshot to a follower.
// The StateMachine keeps the set in memory (AlarmSet) for the apply-time
// rules and for readers (/health, the quota check before proposing).
//
// Rules (what every member applies, so all refuse the same entries):
//   NOSPACE: Put, a Txn with a Put in either branch (nested txns included,
//            where etcd 3.4 counts only the top level), LeaseGrant ->
//            "etcdserver: mvcc: database space exceeded" (ResourceExhausted).
//   CORRUPT: Put, DeleteRange, a Txn that writes, Compaction, LeaseGrant,
//            LeaseRevoke -> "etcdserver: corrupt cluster" (DataLoss).
//            Reads and read-only txns still work, as in etcd.
//   CORRUPT is checked first (etcd wraps the corrupt applier outermost).
//   Alarm changes themselves, lease checkpoints and membership are never
//   refused, so an operator can always disarm.
#ifndef RAFTKV_KV_ALARMS_H_
#define RAFTKV_KV_ALARMS_H_

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kv/read_view.h"
#include "kv/requestpb.pb.h"

namespace raftkv::kv {

// etcdserverpb.AlarmType's numbers.
inline constexpr int32_t kAlarmNone = 0;
inline constexpr int32_t kAlarmNoSpace = 1;
inline constexpr int32_t kAlarmCorrupt = 2;

// etcdserverpb.AlarmType's names: "NONE", "NOSPACE", "CORRUPT" (else the
// number).
std::string AlarmTypeName(int32_t alarm);
// An alarm as etcd prints it (etcdctl alarm list, Status.errors, logs):
// "memberID:<decimal id> alarm:<name> ", with etcd's trailing space.
std::string AlarmText(const kvpb::AlarmMember& m);

// RESOURCE_EXHAUSTED: a write while NOSPACE is raised (or over the quota).
absl::Status NoSpaceError();
// DATA_LOSS: a write while CORRUPT is raised.
absl::Status CorruptError();

// A set of raised alarms: (alarm type, member id) pairs.
class AlarmSet {
 public:
  AlarmSet() = default;
  explicit AlarmSet(const std::vector<kvpb::AlarmMember>& alarms);

  bool Has(int32_t alarm) const;  // any member
  bool Contains(int32_t alarm, uint64_t member_id) const;
  bool empty() const { return raised_.empty(); }
  // In (type, member) order; type NONE lists all.
  std::vector<kvpb::AlarmMember> List(int32_t alarm = kAlarmNone) const;
  // The effect of `change` on this set, as etcd's AlarmStore: the result
  // it answers. GET changes nothing.
  kvpb::AlarmResult Apply(const kvpb::AlarmChange& change);
  // The error the rules above give `request` under this set (OK: allowed).
  absl::Status Refusal(const kvpb::InternalRequest& request) const;

 private:
  std::set<std::pair<int32_t, uint64_t>> raised_;
};

// True when `txn` (or a txn nested in it) has a put in either branch.
bool TxnHasPut(const etcdserverpb::TxnRequest& txn);
// True when `txn` (or a txn nested in it) has a put or a delete.
bool TxnWrites(const etcdserverpb::TxnRequest& txn);

// Every persisted alarm in `view`. Errors: DataLoss on a malformed key.
absl::StatusOr<std::vector<kvpb::AlarmMember>> ReadAlarms(const ReadView& view);

// The StateMachine's current alarms, read by any thread.
// Thread safety: thread-safe.
class Alarms {
 public:
  AlarmSet Get() const;
  void Set(AlarmSet alarms);
  bool Has(int32_t alarm) const;

 private:
  mutable absl::Mutex mu_;
  AlarmSet set_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_ALARMS_H_
