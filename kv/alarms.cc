#include "kv/alarms.h"

#include <memory>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "kv/key_layout.h"

namespace raftkv::kv {

std::string AlarmTypeName(int32_t alarm) {
  switch (alarm) {
    case kAlarmNone:
      return "NONE";
    case kAlarmNoSpace:
      return "NOSPACE";
    case kAlarmCorrupt:
      return "CORRUPT";
    default:
      return absl::StrCat(alarm);
  }
}

std::string AlarmText(const kvpb::AlarmMember& m) {
  return absl::StrCat("memberID:", m.member_id(),
                      " alarm:", AlarmTypeName(m.alarm()), " ");
}

absl::Status NoSpaceError() {
  return absl::ResourceExhaustedError(
      "etcdserver: mvcc: database space exceeded");
}

absl::Status CorruptError() {
  return absl::DataLossError("etcdserver: corrupt cluster");
}

AlarmSet::AlarmSet(const std::vector<kvpb::AlarmMember>& alarms) {
  for (const kvpb::AlarmMember& m : alarms) {
    raised_.emplace(m.alarm(), m.member_id());
  }
}

bool AlarmSet::Has(int32_t alarm) const {
  auto it = raised_.lower_bound({alarm, 0});
  return it != raised_.end() && it->first == alarm;
}

bool AlarmSet::Contains(int32_t alarm, uint64_t member_id) const {
  return raised_.count({alarm, member_id}) > 0;
}

std::vector<kvpb::AlarmMember> AlarmSet::List(int32_t alarm) const {
  std::vector<kvpb::AlarmMember> out;
  for (const auto& [type, member] : raised_) {
    if (alarm != kAlarmNone && type != alarm) continue;
    kvpb::AlarmMember m;
    m.set_member_id(member);
    m.set_alarm(type);
    out.push_back(m);
  }
  return out;
}

kvpb::AlarmResult AlarmSet::Apply(const kvpb::AlarmChange& change) {
  kvpb::AlarmResult result;
  kvpb::AlarmMember m;
  m.set_member_id(change.member_id());
  m.set_alarm(change.alarm());
  const std::pair<int32_t, uint64_t> key{change.alarm(), change.member_id()};
  switch (change.action()) {
    case kvpb::AlarmChange::GET:
      for (auto& a : List(change.alarm())) *result.add_alarms() = a;
      break;
    case kvpb::AlarmChange::ACTIVATE:
      raised_.insert(key);
      *result.add_alarms() = m;
      break;
    case kvpb::AlarmChange::DEACTIVATE:
      if (raised_.erase(key) > 0) *result.add_alarms() = m;
      break;
    default:
      break;
  }
  return result;
}

namespace {

bool OpsHave(
    const google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>& ops,
    bool deletes_count) {
  for (const etcdserverpb::RequestOp& op : ops) {
    if (op.has_request_put()) return true;
    if (deletes_count && op.has_request_delete_range()) return true;
    if (op.has_request_txn()) {
      const auto& t = op.request_txn();
      if (OpsHave(t.success(), deletes_count) ||
          OpsHave(t.failure(), deletes_count)) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

bool TxnHasPut(const etcdserverpb::TxnRequest& txn) {
  return OpsHave(txn.success(), false) || OpsHave(txn.failure(), false);
}

bool TxnWrites(const etcdserverpb::TxnRequest& txn) {
  return OpsHave(txn.success(), true) || OpsHave(txn.failure(), true);
}

absl::Status AlarmSet::Refusal(const kvpb::InternalRequest& r) const {
  using R = kvpb::InternalRequest;
  if (Has(kAlarmCorrupt)) {
    switch (r.request_case()) {
      case R::kPut:
      case R::kDeleteRange:
      case R::kCompaction:
      case R::kLeaseGrant:
      case R::kLeaseRevoke:
        return CorruptError();
      case R::kTxn:
        if (TxnWrites(r.txn())) return CorruptError();
        break;
      default:
        break;
    }
  }
  if (Has(kAlarmNoSpace)) {
    switch (r.request_case()) {
      case R::kPut:
      case R::kLeaseGrant:
        return NoSpaceError();
      case R::kTxn:
        if (TxnHasPut(r.txn())) return NoSpaceError();
        break;
      default:
        break;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<kvpb::AlarmMember>> ReadAlarms(
    const ReadView& view) {
  std::vector<kvpb::AlarmMember> out;
  std::unique_ptr<leveldb::Iterator> it = view.NewIterator();
  const std::string prefix(1, layout::kAlarmTag);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    if (it->key().size() != 17) {
      return absl::DataLossError("kv: malformed alarm key in the store");
    }
    const std::string_view raw(it->key().data(), it->key().size());
    kvpb::AlarmMember m;
    m.set_alarm(static_cast<int32_t>(
        static_cast<int64_t>(layout::DecodeFixed64(raw.substr(1)))));
    m.set_member_id(layout::DecodeFixed64(raw.substr(9)));
    out.push_back(m);
  }
  if (!it->status().ok()) {
    return absl::UnavailableError("kv: leveldb read of alarms: " +
                                  it->status().ToString());
  }
  return out;
}

AlarmSet Alarms::Get() const {
  absl::MutexLock l(&mu_);
  return set_;
}

void Alarms::Set(AlarmSet alarms) {
  absl::MutexLock l(&mu_);
  set_ = std::move(alarms);
}

bool Alarms::Has(int32_t alarm) const {
  absl::MutexLock l(&mu_);
  return set_.Has(alarm);
}

}  // namespace raftkv::kv
