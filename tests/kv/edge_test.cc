// etcd semantics pinned by name: each test is one rule from ETCD-COMPAT.md
// 1.2 that a compatible store must honour.
#include <gtest/gtest.h>

#include "kv/errors.h"
#include "kv/validate.h"
#include "tests/kv/store_harness.h"

namespace raftkv::kv::testing {
namespace {

using etcdserverpb::RangeRequest;
using etcdserverpb::TxnRequest;

std::vector<std::string> Keys(const etcdserverpb::RangeResponse& resp) {
  std::vector<std::string> keys;
  for (const auto& kv : resp.kvs()) keys.push_back(kv.key());
  return keys;
}

class EdgeTest : public ::testing::Test {
 protected:
  // Puts "a", "b", "c" at revisions 2, 3, 4.
  void PutAbc() {
    ASSERT_TRUE(h_.Put("a", "1").ok());
    ASSERT_TRUE(h_.Put("b", "22").ok());
    ASSERT_TRUE(h_.Put("c", "333").ok());
  }
  absl::StatusOr<etcdserverpb::RangeResponse> Range(const RangeRequest& req) {
    return h_.store().Range(req);
  }
  StoreHarness h_;
};

TEST_F(EdgeTest, EmptyStoreIsAtRevisionOne) {
  EXPECT_EQ(h_.store().revision(), 1);
  auto r = h_.Get("a");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->header().revision(), 1);
  EXPECT_EQ(r->count(), 0);
}

TEST_F(EdgeTest, RangeEndZeroMeansToTheEnd) {
  PutAbc();
  auto r = h_.Get("b", std::string(1, '\0'));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Keys(*r), (std::vector<std::string>{"b", "c"}));
}

TEST_F(EdgeTest, KeyAndRangeEndZeroMeansAllKeys) {
  PutAbc();
  std::string zero(1, '\0');
  auto r = h_.Get(zero, zero);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Keys(*r), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(EdgeTest, PrefixOfAllFfIsSentAsZeroRangeEnd) {
  ASSERT_TRUE(h_.Put("\xff", "x").ok());
  ASSERT_TRUE(h_.Put("\xff\x01", "y").ok());
  ASSERT_TRUE(h_.Put("\xfe", "z").ok());
  // Clients turn prefix "\xff" into range_end "\0".
  auto r = h_.Get("\xff", std::string(1, '\0'));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Keys(*r), (std::vector<std::string>{"\xff", "\xff\x01"}));
}

TEST_F(EdgeTest, LimitSetsMoreAndCountsTheWholeRange) {
  PutAbc();
  RangeRequest req;
  req.set_key("a");
  req.set_range_end("z");
  req.set_limit(2);
  auto r = Range(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Keys(*r), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r->more());
  EXPECT_EQ(r->count(), 3);
  req.set_limit(3);
  r = Range(req);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->more());
}

TEST_F(EdgeTest, RePutAfterDeleteStartsAtVersionOneWithNewCreateRevision) {
  ASSERT_TRUE(h_.Put("k", "1").ok());  // rev 2
  ASSERT_TRUE(h_.Put("k", "2").ok());  // rev 3
  auto r = h_.Get("k");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs(0).version(), 2);
  EXPECT_EQ(r->kvs(0).create_revision(), 2);
  ASSERT_TRUE(h_.Delete("k").ok());    // rev 4
  ASSERT_TRUE(h_.Put("k", "3").ok());  // rev 5
  r = h_.Get("k");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs(0).version(), 1);
  EXPECT_EQ(r->kvs(0).create_revision(), 5);
  EXPECT_EQ(r->kvs(0).mod_revision(), 5);
  // The old incarnation is still readable at its revision.
  r = h_.Get("k", "", 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs(0).value(), "2");
  EXPECT_EQ(r->header().revision(), 5);
  r = h_.Get("k", "", 4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count(), 0);
}

TEST_F(EdgeTest, DeletingAMissingKeyIsNotARevision) {
  ASSERT_TRUE(h_.Put("a", "1").ok());
  auto d = h_.Delete("zz");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->deleted(), 0);
  EXPECT_EQ(d->header().revision(), 2);
  EXPECT_EQ(h_.store().revision(), 2);
}

TEST_F(EdgeTest, ReadOnlyTxnDoesNotBumpRevision) {
  PutAbc();
  TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key("a");
  cmp->set_target(etcdserverpb::Compare::VALUE);
  cmp->set_value("1");
  txn.add_success()->mutable_request_range()->set_key("b");
  auto r = h_.ApplyOne<etcdserverpb::TxnResponse>(txn);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded());
  EXPECT_EQ(r->header().revision(), 4);
  EXPECT_EQ(r->responses(0).response_range().kvs(0).value(), "22");
  EXPECT_EQ(h_.store().revision(), 4);
}

TEST_F(EdgeTest, TxnWritesShareOneRevisionAndSeeEarlierOps) {
  PutAbc();
  TxnRequest txn;
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key("n");
  put->set_value("v");
  txn.add_success()->mutable_request_delete_range()->set_key("a");
  txn.add_success()->mutable_request_range()->set_key("n");
  auto r = h_.ApplyOne<etcdserverpb::TxnResponse>(txn);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->header().revision(), 5);
  EXPECT_EQ(r->responses(2).response_range().kvs(0).mod_revision(), 5);
  EXPECT_EQ(h_.store().revision(), 5);
}

TEST_F(EdgeTest, MissingKeyCompares) {
  auto run = [&](etcdserverpb::Compare::CompareTarget target) {
    TxnRequest txn;
    auto* cmp = txn.add_compare();
    cmp->set_key("missing");
    cmp->set_target(target);
    cmp->set_result(etcdserverpb::Compare::EQUAL);
    auto r = h_.ApplyOne<etcdserverpb::TxnResponse>(txn);
    EXPECT_TRUE(r.ok());
    return r.ok() && r->succeeded();
  };
  EXPECT_FALSE(run(etcdserverpb::Compare::VALUE));  // even against ""
  EXPECT_TRUE(run(etcdserverpb::Compare::CREATE));  // 0 == 0
  EXPECT_TRUE(run(etcdserverpb::Compare::VERSION));
  EXPECT_TRUE(run(etcdserverpb::Compare::MOD));
  EXPECT_TRUE(run(etcdserverpb::Compare::LEASE));
}

TEST_F(EdgeTest, CompactingTheCurrentRevisionIsAllowed) {
  PutAbc();
  auto c = h_.Compact(4);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(h_.Compact(4).status(), CompactedError());
  EXPECT_EQ(h_.Compact(3).status(), CompactedError());
  EXPECT_EQ(h_.Compact(5).status(), FutureRevError());
}

TEST_F(EdgeTest, ReadingAtAFutureRevisionFails) {
  PutAbc();
  EXPECT_EQ(h_.Get("a", "", 5).status(), FutureRevError());
  EXPECT_EQ(FutureRevError().message(),
            "etcdserver: mvcc: required revision is a future revision");
}

TEST_F(EdgeTest, ReadingExactlyAtTheCompactRevisionIsAllowed) {
  PutAbc();
  ASSERT_TRUE(h_.Put("a", "new").ok());  // rev 5
  ASSERT_TRUE(h_.Compact(3).ok());
  while (true) {
    auto done = h_.store().CompactStep(1);
    ASSERT_TRUE(done.ok());
    if (*done) break;
  }
  auto r = h_.Get("a", "z", 3);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Keys(*r), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r->kvs(0).value(), "1");
  EXPECT_EQ(h_.Get("a", "", 2).status(), CompactedError());
  EXPECT_EQ(CompactedError().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(h_.store().ReadChanges(2, 10, 0, false).status(), CompactedError());
  auto changes = h_.store().ReadChanges(3, 10, 0, true);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->events.size(), 3u);  // b@3, c@4, a@5
  EXPECT_EQ(changes->events[2].prev_kv().value(), "1");
}

TEST_F(EdgeTest, SortOrders) {
  ASSERT_TRUE(h_.Put("a", "3").ok());  // rev 2
  ASSERT_TRUE(h_.Put("b", "1").ok());  // rev 3
  ASSERT_TRUE(h_.Put("c", "2").ok());  // rev 4
  ASSERT_TRUE(h_.Put("a", "3").ok());  // rev 5: a has version 2
  RangeRequest req;
  req.set_key("a");
  req.set_range_end("z");
  req.set_sort_target(RangeRequest::VALUE);  // NONE order means ASCEND
  EXPECT_EQ(Keys(*Range(req)), (std::vector<std::string>{"b", "c", "a"}));
  req.set_sort_order(RangeRequest::DESCEND);
  EXPECT_EQ(Keys(*Range(req)), (std::vector<std::string>{"a", "c", "b"}));
  req.set_sort_target(RangeRequest::KEY);
  EXPECT_EQ(Keys(*Range(req)), (std::vector<std::string>{"c", "b", "a"}));
  req.set_sort_target(RangeRequest::MOD);
  req.set_sort_order(RangeRequest::ASCEND);
  EXPECT_EQ(Keys(*Range(req)), (std::vector<std::string>{"b", "c", "a"}));
  req.set_sort_target(RangeRequest::CREATE);
  req.set_sort_order(RangeRequest::DESCEND);
  EXPECT_EQ(Keys(*Range(req)), (std::vector<std::string>{"c", "b", "a"}));
  req.set_sort_target(RangeRequest::VERSION);
  req.set_limit(1);
  auto r = Range(req);
  EXPECT_EQ(Keys(*r), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(r->more());
}

TEST_F(EdgeTest, CountOnlyAndKeysOnly) {
  PutAbc();
  RangeRequest req;
  req.set_key("a");
  req.set_range_end("z");
  req.set_count_only(true);
  ReadStats stats;
  auto r = h_.store().Range(req, &stats);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count(), 3);
  EXPECT_EQ(r->kvs_size(), 0);
  EXPECT_EQ(stats.values_decoded, 0);
  req.set_count_only(false);
  req.set_keys_only(true);
  r = Range(req);
  ASSERT_EQ(r->kvs_size(), 3);
  EXPECT_EQ(r->kvs(2).key(), "c");
  EXPECT_EQ(r->kvs(2).value(), "");
  EXPECT_EQ(r->kvs(2).mod_revision(), 4);
}

TEST_F(EdgeTest, RevisionFiltersDoNotChangeCount) {
  PutAbc();
  RangeRequest req;
  req.set_key("a");
  req.set_range_end("z");
  req.set_min_mod_revision(3);
  req.set_max_create_revision(3);
  auto r = Range(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Keys(*r), (std::vector<std::string>{"b"}));
  EXPECT_EQ(r->count(), 3);  // etcd's quirk: count is before the filters
}

TEST_F(EdgeTest, PutIgnoreValueAndLease) {
  etcdserverpb::PutRequest put;
  put.set_key("k");
  put.set_ignore_value(true);
  EXPECT_EQ(h_.ApplyOne<etcdserverpb::PutResponse>(put).status(),
            KeyNotFoundError());
  EXPECT_EQ(h_.store().revision(), 1);
  put.set_ignore_value(false);
  put.set_value("v");
  put.set_lease(7);
  EXPECT_EQ(h_.ApplyOne<etcdserverpb::PutResponse>(put).status(),
            LeaseNotFoundError());
  h_.GrantLeases(7, 7);
  ASSERT_TRUE(h_.ApplyOne<etcdserverpb::PutResponse>(put).ok());
  put.clear_value();
  put.set_ignore_value(true);
  put.set_lease(0);
  put.set_ignore_lease(true);
  put.set_prev_kv(true);
  auto r = h_.ApplyOne<etcdserverpb::PutResponse>(put);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prev_kv().version(), 1);
  auto g = h_.Get("k");
  EXPECT_EQ(g->kvs(0).value(), "v");
  EXPECT_EQ(g->kvs(0).lease(), 7);
  EXPECT_EQ(g->kvs(0).version(), 2);
  put.set_value("x");
  EXPECT_EQ(h_.ApplyOne<etcdserverpb::PutResponse>(put).status(),
            ValueProvidedError());
}

TEST(ValidateTest, TxnDuplicateKeys) {
  TxnRequest txn;
  txn.add_success()->mutable_request_put()->set_key("k");
  txn.add_success()->mutable_request_put()->set_key("k");
  EXPECT_EQ(ValidateTxn(txn), DuplicateKeyError());
  EXPECT_EQ(DuplicateKeyError().message(),
            "etcdserver: duplicate key given in txn request");

  TxnRequest del;  // a put inside a deleted range
  auto* d = del.add_success()->mutable_request_delete_range();
  d->set_key("a");
  d->set_range_end("c");
  del.add_success()->mutable_request_put()->set_key("b");
  EXPECT_EQ(ValidateTxn(del), DuplicateKeyError());

  TxnRequest branches;  // the same key in both branches is fine
  branches.add_success()->mutable_request_put()->set_key("k");
  branches.add_failure()->mutable_request_put()->set_key("k");
  EXPECT_TRUE(ValidateTxn(branches).ok());

  TxnRequest nested;  // a nested txn's put collides with the parent's
  nested.add_success()->mutable_request_put()->set_key("k");
  nested.add_success()
      ->mutable_request_txn()
      ->add_failure()
      ->mutable_request_put()
      ->set_key("k");
  EXPECT_EQ(ValidateTxn(nested), DuplicateKeyError());
}

TEST(ValidateTest, TooManyOpsAndEmptyKeys) {
  TxnRequest txn;
  for (int i = 0; i < 129; ++i) {
    txn.add_success()->mutable_request_range()->set_key("k" +
                                                        std::to_string(i));
  }
  EXPECT_EQ(ValidateTxn(txn), TooManyOpsError());
  txn.mutable_success()->RemoveLast();
  EXPECT_TRUE(ValidateTxn(txn).ok());
  txn.add_compare();  // empty compare key
  EXPECT_EQ(ValidateTxn(txn), EmptyKeyError());
  EXPECT_EQ(EmptyKeyError().message(), "etcdserver: key is not provided");
  etcdserverpb::RangeRequest range;
  EXPECT_EQ(ValidateRange(range), EmptyKeyError());
}

TEST_F(EdgeTest, InvalidTxnIsRejectedAtApplyWithoutARevision) {
  TxnRequest txn;
  txn.add_success()->mutable_request_put()->set_key("k");
  txn.add_success()->mutable_request_put()->set_key("k");
  EXPECT_EQ(h_.ApplyOne<etcdserverpb::TxnResponse>(txn).status(),
            DuplicateKeyError());
  EXPECT_EQ(h_.store().revision(), 1);
  EXPECT_EQ(h_.store().applied_index(), 1u);  // the entry was consumed
}

TEST_F(EdgeTest, AppliedIndexAndRevisionsAreRestoredAfterReopen) {
  PutAbc();
  ASSERT_TRUE(h_.Compact(3).ok());
  EXPECT_EQ(h_.store().applied_index(), 4u);
  h_.Reopen();
  EXPECT_EQ(h_.store().applied_index(), 4u);
  EXPECT_EQ(h_.store().revision(), 4);
  EXPECT_EQ(h_.store().compact_revision(), 3);
  EXPECT_EQ(h_.Get("c")->kvs(0).value(), "333");
}

TEST_F(EdgeTest, ReplayedEntriesAreSkipped) {
  PutAbc();  // entries 1..3
  etcdserverpb::PutRequest put;
  put.set_key("a");
  put.set_value("again");
  ApplyCommand cmds[] = {{3, &put}, {4, &put}};
  auto r = h_.store().Apply(cmds);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(std::holds_alternative<std::monostate>(*(*r)[0]));
  EXPECT_TRUE(std::holds_alternative<etcdserverpb::PutResponse>(*(*r)[1]));
  EXPECT_EQ(h_.store().revision(), 5);
  EXPECT_EQ(h_.store().applied_index(), 4u);
}

// Fails every file append while `fail` is set: a LevelDB write that cannot
// reach its log.
class FaultyEnv : public leveldb::EnvWrapper {
 public:
  explicit FaultyEnv(leveldb::Env* base) : leveldb::EnvWrapper(base) {}
  bool fail = false;

  leveldb::Status NewWritableFile(const std::string& name,
                                  leveldb::WritableFile** out) override {
    leveldb::Status s = target()->NewWritableFile(name, out);
    if (s.ok()) *out = new File(*out, &fail);
    return s;
  }

 private:
  class File : public leveldb::WritableFile {
   public:
    File(leveldb::WritableFile* base, const bool* fail)
        : base_(base), fail_(fail) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      if (*fail_) return leveldb::Status::IOError("injected");
      return base_->Append(data);
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override { return base_->Sync(); }

   private:
    std::unique_ptr<leveldb::WritableFile> base_;
    const bool* fail_;
  };
};

// The applied index travels in the same LevelDB write as the data: a batch
// whose write fails leaves neither the data nor the index behind (and the
// store refuses further writes), and one that succeeds leaves both.
TEST_F(EdgeTest, BatchIsAtomicWithAppliedIndex) {
  FaultyEnv faulty(h_.env());
  h_.set_open_env(&faulty);
  h_.Reopen();
  etcdserverpb::PutRequest p1, p2;
  p1.set_key("x");
  p1.set_value("1");
  p2.set_key("y");
  p2.set_value("2");
  ApplyCommand ok_batch[] = {{10, &p1}, {11, &p2}, {12, std::monostate()}};
  ASSERT_TRUE(h_.store().Apply(ok_batch).ok());
  EXPECT_EQ(h_.store().applied_index(), 12u);
  EXPECT_EQ(h_.store().revision(), 3);

  faulty.fail = true;
  etcdserverpb::PutRequest p3;
  p3.set_key("z");
  p3.set_value("3");
  ApplyCommand bad_batch[] = {{13, &p3}, {14, &p1}};
  auto r = h_.store().Apply(bad_batch);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(h_.store().applied_index(), 12u);
  EXPECT_EQ(h_.store().revision(), 3);
  faulty.fail = false;
  ApplyCommand later[] = {{13, &p3}};
  EXPECT_FALSE(h_.store().Apply(later).ok());  // fail closed

  h_.Reopen();
  EXPECT_EQ(h_.store().applied_index(), 12u);
  EXPECT_EQ(h_.store().revision(), 3);
  EXPECT_EQ(h_.Get("z")->count(), 0);
  EXPECT_EQ(h_.Get("y")->kvs(0).mod_revision(), 3);
  // The WAL replays 13..14 and they apply normally.
  ASSERT_TRUE(h_.store().Apply(bad_batch).ok());
  EXPECT_EQ(h_.store().applied_index(), 14u);
  EXPECT_EQ(h_.Get("z")->kvs(0).mod_revision(), 4);
}

}  // namespace
}  // namespace raftkv::kv::testing
