// kv/alarms and kv/quota: the alarm set as etcd's AlarmStore answers it,
// the refusal rules of kv/alarms.h for NOSPACE and CORRUPT (with etcd's
// codes and messages), the alarm's text form, the quota's cost and its
// boundary, and that alarms persist in the store (MvccStore, and through
// StateMachine across a reopen, refusing entries of the same batch).
#include "kv/alarms.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kv/quota.h"
#include "kv/state_machine.h"
#include "raft/raftpb.pb.h"
#include "tests/kv/file_util.h"
#include "tests/kv/store_harness.h"
#include "tests/kv/watch_test_util.h"

namespace raftkv::kv {
namespace {

constexpr uint64_t kMember1 = 0x8e9e05c52164694d;  // etcd's default member
constexpr uint64_t kMember2 = 2;
constexpr char kNoSpaceMessage[] = "etcdserver: mvcc: database space exceeded";
constexpr char kCorruptMessage[] = "etcdserver: corrupt cluster";

kvpb::AlarmChange Change(kvpb::AlarmChange::Action action, int32_t alarm,
                         uint64_t member) {
  kvpb::AlarmChange c;
  c.set_action(action);
  c.set_alarm(alarm);
  c.set_member_id(member);
  return c;
}

kvpb::AlarmMember Member(int32_t alarm, uint64_t member) {
  kvpb::AlarmMember m;
  m.set_alarm(alarm);
  m.set_member_id(member);
  return m;
}

// "NOSPACE/1,CORRUPT/2": a list in one comparable string.
std::string Names(const std::vector<kvpb::AlarmMember>& alarms) {
  std::string out;
  for (const kvpb::AlarmMember& m : alarms) {
    if (!out.empty()) out += ",";
    out += AlarmTypeName(m.alarm()) + "/" + std::to_string(m.member_id());
  }
  return out;
}

std::string Names(const kvpb::AlarmResult& r) {
  return Names(
      std::vector<kvpb::AlarmMember>(r.alarms().begin(), r.alarms().end()));
}

// Requests, as the gRPC services build them (puts and deletes from
// watch_test_util.h).
using testing::DeleteRequest;
using testing::PutRequest;

kvpb::InternalRequest CompactionRequest(int64_t rev) {
  kvpb::InternalRequest r;
  r.mutable_compaction()->set_revision(rev);
  return r;
}

kvpb::InternalRequest AlarmRequest(kvpb::AlarmChange::Action action,
                                   int32_t alarm, uint64_t member) {
  kvpb::InternalRequest r;
  *r.mutable_alarm() = Change(action, alarm, member);
  return r;
}

etcdserverpb::RequestOp RangeOp(const std::string& key) {
  etcdserverpb::RequestOp op;
  op.mutable_request_range()->set_key(key);
  return op;
}

etcdserverpb::RequestOp PutOp(const std::string& key,
                              const std::string& value) {
  etcdserverpb::RequestOp op;
  op.mutable_request_put()->set_key(key);
  op.mutable_request_put()->set_value(value);
  return op;
}

etcdserverpb::RequestOp DeleteOp(const std::string& key) {
  etcdserverpb::RequestOp op;
  op.mutable_request_delete_range()->set_key(key);
  return op;
}

// A txn whose success branch holds `inner` nested `depth` txns deep (depth
// 0: `inner` is an op of the top-level txn), with a range beside it at
// every level; `in_failure` puts the chain in the failure branch instead.
etcdserverpb::TxnRequest Nested(const etcdserverpb::RequestOp& inner, int depth,
                                bool in_failure = false) {
  etcdserverpb::TxnRequest txn;
  auto* ops = in_failure ? txn.mutable_failure() : txn.mutable_success();
  *ops->Add() = RangeOp("r");
  *ops->Add() = inner;
  for (int d = 0; d < depth; ++d) {
    etcdserverpb::TxnRequest outer;
    auto* outer_ops =
        in_failure ? outer.mutable_failure() : outer.mutable_success();
    *outer_ops->Add() = RangeOp("r");
    *outer_ops->Add()->mutable_request_txn() = txn;
    txn = outer;
  }
  return txn;
}

kvpb::InternalRequest TxnRequest(const etcdserverpb::TxnRequest& txn) {
  kvpb::InternalRequest r;
  *r.mutable_txn() = txn;
  return r;
}

AlarmSet Raised(std::vector<kvpb::AlarmMember> alarms) {
  return AlarmSet(alarms);
}

void ExpectNoSpace(const absl::Status& s) {
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(s.message(), kNoSpaceMessage);
}

void ExpectCorrupt(const absl::Status& s) {
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_EQ(s.message(), kCorruptMessage);
}

// Every alarm change, of either type, for any member: never refused.
void ExpectAlarmChangesAllowed(const AlarmSet& set) {
  for (auto action : {kvpb::AlarmChange::GET, kvpb::AlarmChange::ACTIVATE,
                      kvpb::AlarmChange::DEACTIVATE}) {
    for (int32_t alarm : {kAlarmNoSpace, kAlarmCorrupt}) {
      for (uint64_t member : {kMember1, kMember2}) {
        EXPECT_TRUE(set.Refusal(AlarmRequest(action, alarm, member)).ok());
      }
    }
  }
}

TEST(AlarmSetTest, ActivateTwiceKeepsOneAlarmAndAnswersItEachTime) {
  AlarmSet set;
  EXPECT_TRUE(set.empty());
  for (int i = 0; i < 2; ++i) {
    kvpb::AlarmResult r =
        set.Apply(Change(kvpb::AlarmChange::ACTIVATE, kAlarmNoSpace, kMember1));
    EXPECT_EQ(Names(r), "NOSPACE/" + std::to_string(kMember1)) << i;
  }
  EXPECT_EQ(Names(set.List()), "NOSPACE/" + std::to_string(kMember1));
  EXPECT_TRUE(set.Has(kAlarmNoSpace));
  EXPECT_FALSE(set.Has(kAlarmCorrupt));
  EXPECT_TRUE(set.Contains(kAlarmNoSpace, kMember1));
  EXPECT_FALSE(set.Contains(kAlarmNoSpace, kMember2));
  EXPECT_FALSE(set.empty());
}

TEST(AlarmSetTest, DeactivateAnswersOnlyWhatItRemoved) {
  AlarmSet set;
  set.Apply(Change(kvpb::AlarmChange::ACTIVATE, kAlarmNoSpace, kMember1));
  // Not raised: another member's, another type's.
  EXPECT_EQ(Names(set.Apply(Change(kvpb::AlarmChange::DEACTIVATE, kAlarmNoSpace,
                                   kMember2))),
            "");
  EXPECT_EQ(Names(set.Apply(Change(kvpb::AlarmChange::DEACTIVATE, kAlarmCorrupt,
                                   kMember1))),
            "");
  EXPECT_TRUE(set.Contains(kAlarmNoSpace, kMember1));
  EXPECT_EQ(Names(set.Apply(Change(kvpb::AlarmChange::DEACTIVATE, kAlarmNoSpace,
                                   kMember1))),
            "NOSPACE/" + std::to_string(kMember1));
  EXPECT_TRUE(set.empty());
  // Twice: nothing left to remove.
  EXPECT_EQ(Names(set.Apply(Change(kvpb::AlarmChange::DEACTIVATE, kAlarmNoSpace,
                                   kMember1))),
            "");
}

TEST(AlarmSetTest, GetListsByTypeInTypeThenMemberOrderAndChangesNothing) {
  AlarmSet set;
  set.Apply(Change(kvpb::AlarmChange::ACTIVATE, kAlarmCorrupt, 7));
  set.Apply(Change(kvpb::AlarmChange::ACTIVATE, kAlarmNoSpace, 9));
  set.Apply(Change(kvpb::AlarmChange::ACTIVATE, kAlarmNoSpace, 3));
  auto get = [&](int32_t alarm) {
    return Names(set.Apply(Change(kvpb::AlarmChange::GET, alarm, 0)));
  };
  EXPECT_EQ(get(kAlarmNone), "NOSPACE/3,NOSPACE/9,CORRUPT/7");
  EXPECT_EQ(get(kAlarmNoSpace), "NOSPACE/3,NOSPACE/9");
  EXPECT_EQ(get(kAlarmCorrupt), "CORRUPT/7");
  EXPECT_EQ(get(42), "");
  // A GET naming a member still lists by type only, as etcd's AlarmStore.
  EXPECT_EQ(Names(set.Apply(Change(kvpb::AlarmChange::GET, kAlarmNoSpace, 9))),
            "NOSPACE/3,NOSPACE/9");
  EXPECT_EQ(Names(set.List()), "NOSPACE/3,NOSPACE/9,CORRUPT/7");
  EXPECT_EQ(Names(set.List(kAlarmCorrupt)), "CORRUPT/7");
}

TEST(AlarmTextTest, EtcdsNamesAndTextForm) {
  EXPECT_EQ(AlarmTypeName(kAlarmNone), "NONE");
  EXPECT_EQ(AlarmTypeName(kAlarmNoSpace), "NOSPACE");
  EXPECT_EQ(AlarmTypeName(kAlarmCorrupt), "CORRUPT");
  EXPECT_EQ(AlarmTypeName(5), "5");
  // etcdctl alarm list's line: the decimal member id, etcd's trailing space.
  EXPECT_EQ(AlarmText(Member(kAlarmNoSpace, kMember1)),
            "memberID:10276657743932975437 alarm:NOSPACE ");
  EXPECT_EQ(AlarmText(Member(kAlarmCorrupt, 2)), "memberID:2 alarm:CORRUPT ");
}

TEST(AlarmErrorsTest, EtcdsCodesAndMessages) {
  ExpectNoSpace(NoSpaceError());
  ExpectCorrupt(CorruptError());
}

TEST(RefusalTest, NoAlarmRefusesNothing) {
  AlarmSet none;
  EXPECT_TRUE(none.Refusal(PutRequest("k", "v")).ok());
  EXPECT_TRUE(none.Refusal(DeleteRequest("k")).ok());
  EXPECT_TRUE(none.Refusal(TxnRequest(Nested(PutOp("k", "v"), 2))).ok());
  EXPECT_TRUE(none.Refusal(CompactionRequest(1)).ok());
}

TEST(RefusalTest, NoSpaceRefusesPutsAndLeaseGrants) {
  for (uint64_t member : {kMember1, kMember2}) {
    const AlarmSet set = Raised({Member(kAlarmNoSpace, member)});
    ExpectNoSpace(set.Refusal(PutRequest("k", "v")));
    kvpb::InternalRequest grant;
    grant.mutable_lease_grant()->set_id(5);
    grant.mutable_lease_grant()->set_ttl(10);
    ExpectNoSpace(set.Refusal(grant));
  }
}

TEST(RefusalTest, NoSpaceRefusesATxnWithAPutAtAnyDepthInEitherBranch) {
  const AlarmSet set = Raised({Member(kAlarmNoSpace, kMember1)});
  for (bool in_failure : {false, true}) {
    for (int depth : {0, 1, 2}) {
      SCOPED_TRACE(::testing::Message()
                   << "depth " << depth << " failure " << in_failure);
      ExpectNoSpace(
          set.Refusal(TxnRequest(Nested(PutOp("k", "v"), depth, in_failure))));
    }
  }
}

TEST(RefusalTest, NoSpaceAllowsReadsDeletesCompactionLeaseEndsAndAlarms) {
  const AlarmSet set = Raised({Member(kAlarmNoSpace, kMember1)});
  EXPECT_TRUE(set.Refusal(DeleteRequest("k")).ok());
  EXPECT_TRUE(set.Refusal(CompactionRequest(3)).ok());
  // A read-only txn, and one that deletes (nested two deep).
  EXPECT_TRUE(set.Refusal(TxnRequest(Nested(RangeOp("k"), 2))).ok());
  EXPECT_TRUE(set.Refusal(TxnRequest(Nested(DeleteOp("k"), 2))).ok());
  EXPECT_TRUE(set.Refusal(TxnRequest(etcdserverpb::TxnRequest())).ok());
  kvpb::InternalRequest revoke;
  revoke.mutable_lease_revoke()->set_id(5);
  EXPECT_TRUE(set.Refusal(revoke).ok());
  kvpb::InternalRequest checkpoint;
  checkpoint.mutable_lease_checkpoint();
  EXPECT_TRUE(set.Refusal(checkpoint).ok());
  kvpb::InternalRequest publish;
  publish.mutable_publish()->set_name("m1");
  EXPECT_TRUE(set.Refusal(publish).ok());
  ExpectAlarmChangesAllowed(set);
}

TEST(RefusalTest, CorruptRefusesEveryWrite) {
  const AlarmSet set = Raised({Member(kAlarmCorrupt, kMember2)});
  ExpectCorrupt(set.Refusal(PutRequest("k", "v")));
  ExpectCorrupt(set.Refusal(DeleteRequest("k")));
  ExpectCorrupt(set.Refusal(CompactionRequest(3)));
  kvpb::InternalRequest grant;
  grant.mutable_lease_grant()->set_id(5);
  ExpectCorrupt(set.Refusal(grant));
  kvpb::InternalRequest revoke;
  revoke.mutable_lease_revoke()->set_id(5);
  ExpectCorrupt(set.Refusal(revoke));
  for (bool in_failure : {false, true}) {
    for (int depth : {0, 2}) {
      SCOPED_TRACE(::testing::Message()
                   << "depth " << depth << " failure " << in_failure);
      ExpectCorrupt(
          set.Refusal(TxnRequest(Nested(PutOp("k", "v"), depth, in_failure))));
      ExpectCorrupt(
          set.Refusal(TxnRequest(Nested(DeleteOp("k"), depth, in_failure))));
    }
  }
}

TEST(RefusalTest, CorruptAllowsReadOnlyTxnsCheckpointsAndAlarms) {
  const AlarmSet set = Raised({Member(kAlarmCorrupt, kMember2)});
  EXPECT_TRUE(set.Refusal(TxnRequest(Nested(RangeOp("k"), 2))).ok());
  EXPECT_TRUE(set.Refusal(TxnRequest(Nested(RangeOp("k"), 0, true))).ok());
  kvpb::InternalRequest checkpoint;
  checkpoint.mutable_lease_checkpoint();
  EXPECT_TRUE(set.Refusal(checkpoint).ok());
  ExpectAlarmChangesAllowed(set);
}

TEST(RefusalTest, CorruptIsCheckedBeforeNoSpace) {
  const AlarmSet set = Raised(
      {Member(kAlarmNoSpace, kMember1), Member(kAlarmCorrupt, kMember2)});
  ExpectCorrupt(set.Refusal(PutRequest("k", "v")));
  ExpectCorrupt(set.Refusal(TxnRequest(Nested(PutOp("k", "v"), 2))));
  // A delete: NOSPACE would allow it, CORRUPT does not.
  ExpectCorrupt(set.Refusal(DeleteRequest("k")));
}

TEST(TxnWritesTest, PutsAndDeletesAtAnyDepth) {
  EXPECT_FALSE(TxnHasPut(Nested(RangeOp("k"), 2)));
  EXPECT_FALSE(TxnWrites(Nested(RangeOp("k"), 2)));
  EXPECT_TRUE(TxnHasPut(Nested(PutOp("k", "v"), 2, true)));
  EXPECT_TRUE(TxnWrites(Nested(PutOp("k", "v"), 2, true)));
  EXPECT_FALSE(TxnHasPut(Nested(DeleteOp("k"), 2)));
  EXPECT_TRUE(TxnWrites(Nested(DeleteOp("k"), 2)));
}

TEST(QuotaCostTest, EtcdsOverheadPlusBytesAndTheLargerBranch) {
  EXPECT_EQ(QuotaCost(PutRequest("key", "value")), 256 + 3 + 5);
  kvpb::InternalRequest grant;
  grant.mutable_lease_grant()->set_id(1);
  EXPECT_EQ(QuotaCost(grant), 64);
  EXPECT_EQ(QuotaCost(DeleteRequest("k")), 0);
  EXPECT_EQ(QuotaCost(CompactionRequest(2)), 0);
  EXPECT_EQ(QuotaCost(AlarmRequest(kvpb::AlarmChange::ACTIVATE, kAlarmNoSpace,
                                   kMember1)),
            0);
  EXPECT_EQ(QuotaCost(TxnRequest(Nested(RangeOp("k"), 2))), 0);
  // Nested puts count, at any depth.
  EXPECT_EQ(QuotaCost(TxnRequest(Nested(PutOp("ab", "cdef"), 2))), 256 + 2 + 4);
  // Only one branch runs: the larger one counts.
  etcdserverpb::TxnRequest txn;
  *txn.add_success() = PutOp("a", "1");
  *txn.add_failure() = PutOp("b", std::string(100, 'x'));
  *txn.add_failure() = PutOp("c", "2");
  EXPECT_EQ(QuotaCost(TxnRequest(txn)), (256 + 1 + 100) + (256 + 1 + 1));
}

TEST(BackendQuotaTest, AvailableOnlyBelowTheQuota) {
  int64_t size = 0;
  BackendQuota quota(
      10000, [&] { return size; }, absl::ZeroDuration());
  ASSERT_TRUE(quota.enabled());
  EXPECT_EQ(quota.limit(), 10000);
  const kvpb::InternalRequest put = PutRequest("k", std::string(743, 'v'));
  ASSERT_EQ(QuotaCost(put), 1000);
  size = 8999;  // 9999 < 10000
  EXPECT_TRUE(quota.Available(put));
  EXPECT_TRUE(quota.AvailableFor(1000));
  size = 9000;  // exactly the quota: etcd's "<" refuses
  EXPECT_FALSE(quota.Available(put));
  EXPECT_FALSE(quota.AvailableFor(1000));
  EXPECT_TRUE(quota.AvailableFor(999));
  // What costs nothing always fits, even far over the quota.
  size = 1 << 30;
  EXPECT_TRUE(quota.Available(DeleteRequest("k")));
  EXPECT_TRUE(quota.Available(CompactionRequest(5)));
  EXPECT_TRUE(quota.Available(
      AlarmRequest(kvpb::AlarmChange::DEACTIVATE, kAlarmNoSpace, kMember1)));
  EXPECT_FALSE(quota.AvailableFor(1));
}

TEST(BackendQuotaTest, NegativeMeansNoneAndZeroEtcdsDefault) {
  auto huge = [] { return int64_t{1} << 40; };
  BackendQuota none(-1, huge);
  EXPECT_FALSE(none.enabled());
  EXPECT_EQ(none.limit(), -1);
  EXPECT_TRUE(none.Available(PutRequest("k", "v")));
  BackendQuota by_default(0, huge);
  EXPECT_TRUE(by_default.enabled());
  EXPECT_EQ(by_default.limit(), int64_t{2} << 30);
  EXPECT_EQ(kDefaultQuotaBytes, int64_t{2} << 30);
  EXPECT_EQ(kMaxQuotaBytes, int64_t{8} << 30);
  EXPECT_FALSE(by_default.Available(PutRequest("k", "v")));
}

TEST(BackendQuotaTest, SizeIsCachedUntilRefreshOrInvalidate) {
  int calls = 0;
  int64_t size = 100;
  BackendQuota quota(
      1000,
      [&] {
        ++calls;
        return size;
      },
      absl::InfiniteDuration());
  EXPECT_EQ(quota.Size(), 100);
  size = 5000;
  EXPECT_EQ(quota.Size(), 100);
  EXPECT_TRUE(quota.AvailableFor(10));
  EXPECT_EQ(calls, 1);
  quota.Invalidate();
  EXPECT_EQ(quota.Size(), 5000);
  EXPECT_FALSE(quota.AvailableFor(10));
  EXPECT_EQ(calls, 2);
}

TEST(AlarmPersistenceTest, MvccStoreKeepsAlarmsAcrossReopen) {
  testing::StoreHarness h;
  const kvpb::AlarmChange nospace =
      Change(kvpb::AlarmChange::ACTIVATE, kAlarmNoSpace, kMember1);
  const kvpb::AlarmChange corrupt =
      Change(kvpb::AlarmChange::ACTIVATE, kAlarmCorrupt, kMember2);
  ASSERT_TRUE(h.ApplyOne<std::monostate>(corrupt).ok());
  ASSERT_TRUE(h.ApplyOne<std::monostate>(nospace).ok());
  ASSERT_TRUE(h.ApplyOne<std::monostate>(nospace).ok());  // again: one key
  // A GET persists nothing.
  ASSERT_TRUE(h.ApplyOne<std::monostate>(
                   Change(kvpb::AlarmChange::GET, kAlarmNoSpace, kMember2))
                  .ok());
  const uint64_t applied = h.store().applied_index();
  const std::string both = "NOSPACE/" + std::to_string(kMember1) + ",CORRUPT/" +
                           std::to_string(kMember2);
  auto alarms = h.store().Alarms();
  ASSERT_TRUE(alarms.ok()) << alarms.status();
  EXPECT_EQ(Names(*alarms), both);
  h.Reopen();
  EXPECT_EQ(h.store().applied_index(), applied);
  alarms = h.store().Alarms();
  ASSERT_TRUE(alarms.ok()) << alarms.status();
  EXPECT_EQ(Names(*alarms), both);
  // Alarm changes are not revisions.
  EXPECT_EQ(h.store().revision(), 1);

  ASSERT_TRUE(h.ApplyOne<std::monostate>(Change(kvpb::AlarmChange::DEACTIVATE,
                                                kAlarmCorrupt, kMember2))
                  .ok());
  h.Reopen();
  alarms = h.store().Alarms();
  ASSERT_TRUE(alarms.ok()) << alarms.status();
  EXPECT_EQ(Names(*alarms), "NOSPACE/" + std::to_string(kMember1));
}

// A StateMachine in a scratch directory, fed Raft entries by hand.
class StateMachineAlarmsTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    sm_.reset();
    kvpb::MemberList members;
    kvpb::Member* m = members.add_members();
    m->set_id(kMember1);
    m->set_name("m1");
    m->add_peer_urls("http://127.0.0.1:2380");
    auto sm = StateMachine::Open(dir_.Path("member"), MvccOptions(), members);
    ASSERT_TRUE(sm.ok()) << sm.status();
    sm_ = *std::move(sm);
  }

  // Applies `requests` as one batch of entries after the last applied one;
  // returns each request's result as the proposing member gets it.
  std::vector<ApplyResult> ApplyBatch(
      std::vector<kvpb::InternalRequest> requests) {
    std::vector<raftpb::Entry> entries;
    auto results = std::make_shared<std::vector<ApplyResult>>(
        requests.size(), absl::UnknownError("no result"));
    for (size_t i = 0; i < requests.size(); ++i) {
      requests[i].set_id(++next_id_);
      sm_->results().Register(
          requests[i].id(),
          [results, i](const ApplyResult& r) { (*results)[i] = r; });
      raftpb::Entry e;
      e.set_term(1);
      e.set_index(sm_->applied_index() + 1 + i);
      e.set_type(raftpb::ENTRY_NORMAL);
      e.set_data(requests[i].SerializeAsString());
      entries.push_back(std::move(e));
    }
    absl::Status s = sm_->Apply(entries);
    EXPECT_TRUE(s.ok()) << s;
    return *results;
  }

  ApplyResult ApplyOne(kvpb::InternalRequest request) {
    return ApplyBatch({std::move(request)})[0];
  }

  std::string RaisedNames() { return Names(sm_->alarms().Get().List()); }

  void ExpectDefragmentFrees(int versions);

  testing::TempDir dir_{"alarms_test"};
  std::unique_ptr<StateMachine> sm_;
  uint64_t next_id_ = 0;
};

TEST_F(StateMachineAlarmsTest, AnAlarmRefusesTheNextEntryOfItsBatch) {
  std::vector<ApplyResult> r = ApplyBatch(
      {PutRequest("a", "1"),
       AlarmRequest(kvpb::AlarmChange::ACTIVATE, kAlarmNoSpace, kMember1),
       PutRequest("a", "2"), TxnRequest(Nested(PutOp("b", "1"), 2)),
       TxnRequest(Nested(RangeOp("a"), 2)), DeleteRequest("a")});
  ASSERT_EQ(r.size(), 6u);
  EXPECT_TRUE(r[0].ok()) << r[0].status();
  ASSERT_TRUE(r[1].ok()) << r[1].status();
  const auto* raised = std::get_if<kvpb::AlarmResult>(&*r[1]);
  ASSERT_NE(raised, nullptr);
  EXPECT_EQ(Names(*raised), "NOSPACE/" + std::to_string(kMember1));
  ExpectNoSpace(r[2].status());
  ExpectNoSpace(r[3].status());
  EXPECT_TRUE(r[4].ok()) << r[4].status();
  ASSERT_TRUE(r[5].ok()) << r[5].status();
  EXPECT_EQ(std::get<etcdserverpb::DeleteRangeResponse>(*r[5]).deleted(), 1);
  // The refused entries changed nothing: revision 2 is the first put, 3 the
  // delete.
  EXPECT_EQ(sm_->store()->revision(), 3);
  EXPECT_EQ(sm_->applied_index(), 6u);
  EXPECT_EQ(RaisedNames(), "NOSPACE/" + std::to_string(kMember1));
}

TEST_F(StateMachineAlarmsTest, AlarmsSurviveReopenAndRefuseUntilDisarmed) {
  ASSERT_TRUE(ApplyOne(AlarmRequest(kvpb::AlarmChange::ACTIVATE, kAlarmCorrupt,
                                    kMember2))
                  .ok());
  ExpectCorrupt(ApplyOne(DeleteRequest("a")).status());
  const uint64_t applied = sm_->applied_index();
  Open();
  EXPECT_EQ(sm_->applied_index(), applied);
  EXPECT_EQ(RaisedNames(), "CORRUPT/" + std::to_string(kMember2));
  ExpectCorrupt(ApplyOne(PutRequest("a", "1")).status());
  // GET goes through the log too and answers the raised set.
  ApplyResult got =
      ApplyOne(AlarmRequest(kvpb::AlarmChange::GET, kAlarmNone, 0));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(Names(std::get<kvpb::AlarmResult>(*got)),
            "CORRUPT/" + std::to_string(kMember2));
  ApplyResult disarmed = ApplyOne(
      AlarmRequest(kvpb::AlarmChange::DEACTIVATE, kAlarmCorrupt, kMember2));
  ASSERT_TRUE(disarmed.ok()) << disarmed.status();
  EXPECT_EQ(Names(std::get<kvpb::AlarmResult>(*disarmed)),
            "CORRUPT/" + std::to_string(kMember2));
  Open();
  EXPECT_EQ(RaisedNames(), "");
  ApplyResult put = ApplyOne(PutRequest("a", "1"));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(sm_->store()->revision(), 2);
}

// Overwrites one key `versions` times with incompressible 64 KiB values
// (history is the bulk), compacts at the head, defragments: the space must
// come back, and the newest version stay readable.
void StateMachineAlarmsTest::ExpectDefragmentFrees(int versions) {
  std::mt19937_64 rng(7);
  auto random_value = [&rng] {
    std::string v(64 << 10, '\0');
    for (char& c : v) c = static_cast<char>(rng());
    return v;
  };
  for (int i = 0; i < versions; ++i) {
    ASSERT_TRUE(ApplyOne(PutRequest("big", random_value())).ok());
  }
  ASSERT_TRUE(ApplyOne(CompactionRequest(sm_->store()->revision())).ok());
  const int64_t before = sm_->DiskSize();
  EXPECT_GT(before, versions * (64 << 10));
  ASSERT_TRUE(sm_->Defragment().ok());
  const int64_t after = sm_->DiskSize();
  EXPECT_LT(after, 3 * (64 << 10)) << "before " << before;
  // (In use is at most the files' size by construction; both are small.)
  EXPECT_LT(sm_->SizeInUse(), 3 * (64 << 10));
  etcdserverpb::RangeRequest req;
  req.set_key("big");
  auto read = sm_->store()->Range(req);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->kvs_size(), 1);
  EXPECT_EQ(read->kvs(0).mod_revision(), versions + 1);
}

// More than LevelDB's 4 MiB memtable: flushed while writing.
TEST_F(StateMachineAlarmsTest, DefragmentReturnsCompactedSpace) {
  ExpectDefragmentFrees(64);
}

// All of it still in the memtable when Defragment starts: flushed into one
// table with its own tombstones, which LevelDB's CompactRange alone leaves.
TEST_F(StateMachineAlarmsTest,
       DefragmentReturnsCompactedSpaceOfAHistoryStillInTheMemtable) {
  ExpectDefragmentFrees(16);
}

}  // namespace
}  // namespace raftkv::kv
