// The store's lease semantics (kv/mvcc_store.cc, kv/write_txn.cc): lease
// records, the lease->keys index that every put and delete maintains, revoke
// deleting every attached key in one revision, etcd's lease errors, and
// leases surviving a reopen and a snapshot copy.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kv/mvcc_store.h"
#include "kv/snapshot_copy.h"
#include "tests/kv/store_harness.h"

namespace raftkv::kv {
namespace {

using etcdserverpb::PutResponse;
using etcdserverpb::TxnResponse;
using testing::StoreHarness;

class LeaseStoreTest : public ::testing::Test {
 protected:
  absl::StatusOr<kvpb::LeaseResult> Grant(int64_t id, int64_t ttl) {
    kvpb::LeaseGrant req;
    req.set_id(id);
    req.set_ttl(ttl);
    return h_.ApplyOne<kvpb::LeaseResult>(req);
  }
  absl::StatusOr<kvpb::LeaseResult> Revoke(int64_t id) {
    kvpb::LeaseRevoke req;
    req.set_id(id);
    return h_.ApplyOne<kvpb::LeaseResult>(req);
  }
  absl::StatusOr<PutResponse> PutLease(const std::string& key, int64_t lease) {
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value("v-" + key);
    req.set_lease(lease);
    return h_.ApplyOne<PutResponse>(req);
  }
  std::vector<std::string> Keys(int64_t lease) {
    auto keys = h_.store().LeaseKeys(lease);
    EXPECT_TRUE(keys.ok()) << keys.status();
    return keys.ok() ? *keys : std::vector<std::string>{};
  }
  std::vector<int64_t> LeaseIds() {
    auto leases = h_.store().Leases();
    EXPECT_TRUE(leases.ok()) << leases.status();
    std::vector<int64_t> ids;
    if (leases.ok()) {
      for (const auto& r : *leases) ids.push_back(r.id());
    }
    return ids;
  }
  // The key's lease at the current revision (0 if absent), or -1 if the key
  // does not exist.
  int64_t LeaseOf(const std::string& key) {
    auto r = h_.Get(key);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->kvs_size() == 0) return -1;
    return r->kvs(0).lease();
  }

  StoreHarness h_;
};

TEST_F(LeaseStoreTest, GrantRecordsLeaseAndRefusesDuplicate) {
  auto g = Grant(7, 30);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->id(), 7);
  EXPECT_EQ(g->ttl(), 30);
  EXPECT_EQ(LeaseIds(), std::vector<int64_t>{7});
  const int64_t rev = h_.store().revision();

  auto again = Grant(7, 60);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.status().message(), "etcdserver: lease already exists");
  // A grant is not a key-space write: the revision does not move.
  EXPECT_EQ(h_.store().revision(), rev);
  auto leases = h_.store().Leases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].ttl(), 30);
}

TEST_F(LeaseStoreTest, RevokeDeletesAttachedKeysInOneRevision) {
  ASSERT_TRUE(Grant(1, 10).ok());
  ASSERT_TRUE(PutLease("a", 1).ok());
  ASSERT_TRUE(PutLease("b", 1).ok());
  ASSERT_TRUE(PutLease("c", 1).ok());
  ASSERT_TRUE(h_.Put("other", "x").ok());
  EXPECT_EQ(Keys(1), (std::vector<std::string>{"a", "b", "c"}));
  const int64_t before = h_.store().revision();

  auto r = Revoke(1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->revision(), before + 1);
  EXPECT_EQ(h_.store().revision(), before + 1);
  for (const char* k : {"a", "b", "c"}) EXPECT_EQ(LeaseOf(k), -1) << k;
  EXPECT_EQ(LeaseOf("other"), 0);
  EXPECT_TRUE(Keys(1).empty());
  EXPECT_TRUE(LeaseIds().empty());

  // History: all three keys exist at `before` and all three deletions carry
  // the one revision before+1.
  auto old = h_.Get("a", "d", before);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->kvs_size(), 3);
  for (const char* k : {"a", "b", "c"}) {
    auto at = h_.Get(k, "", before + 1);
    ASSERT_TRUE(at.ok());
    EXPECT_EQ(at->kvs_size(), 0) << k;
  }

  auto twice = Revoke(1);
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(twice.status().message(), "etcdserver: requested lease not found");
}

TEST_F(LeaseStoreTest, RevokeWithoutKeysDoesNotBumpRevision) {
  ASSERT_TRUE(Grant(2, 10).ok());
  ASSERT_TRUE(h_.Put("x", "y").ok());
  const int64_t before = h_.store().revision();
  auto r = Revoke(2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(h_.store().revision(), before);
  EXPECT_TRUE(LeaseIds().empty());
}

TEST_F(LeaseStoreTest, IndexFollowsPutsThatMoveOrDropTheLease) {
  ASSERT_TRUE(Grant(1, 10).ok());
  ASSERT_TRUE(Grant(2, 10).ok());
  ASSERT_TRUE(PutLease("k", 1).ok());
  EXPECT_EQ(Keys(1), std::vector<std::string>{"k"});

  ASSERT_TRUE(PutLease("k", 2).ok());  // moves to lease 2
  EXPECT_TRUE(Keys(1).empty());
  EXPECT_EQ(Keys(2), std::vector<std::string>{"k"});
  EXPECT_EQ(LeaseOf("k"), 2);

  // Revoking the old lease leaves the moved key alone.
  ASSERT_TRUE(Revoke(1).ok());
  EXPECT_EQ(LeaseOf("k"), 2);

  ASSERT_TRUE(h_.Put("k", "plain").ok());  // drops the lease
  EXPECT_TRUE(Keys(2).empty());
  EXPECT_EQ(LeaseOf("k"), 0);
  ASSERT_TRUE(Revoke(2).ok());
  EXPECT_EQ(LeaseOf("k"), 0);
}

TEST_F(LeaseStoreTest, IgnoreLeaseKeepsTheIndexEntry) {
  ASSERT_TRUE(Grant(3, 10).ok());
  ASSERT_TRUE(PutLease("k", 3).ok());
  etcdserverpb::PutRequest req;
  req.set_key("k");
  req.set_value("new");
  req.set_ignore_lease(true);
  ASSERT_TRUE(h_.ApplyOne<PutResponse>(req).ok());
  EXPECT_EQ(LeaseOf("k"), 3);
  EXPECT_EQ(Keys(3), std::vector<std::string>{"k"});
  ASSERT_TRUE(Revoke(3).ok());
  EXPECT_EQ(LeaseOf("k"), -1);
}

TEST_F(LeaseStoreTest, DeleteRemovesFromTheIndex) {
  ASSERT_TRUE(Grant(1, 10).ok());
  ASSERT_TRUE(PutLease("a", 1).ok());
  ASSERT_TRUE(PutLease("b", 1).ok());
  ASSERT_TRUE(h_.Delete("a").ok());
  EXPECT_EQ(Keys(1), std::vector<std::string>{"b"});
  const int64_t before = h_.store().revision();
  ASSERT_TRUE(Revoke(1).ok());
  EXPECT_EQ(h_.store().revision(), before + 1);
  EXPECT_EQ(LeaseOf("b"), -1);
  // "a" was deleted earlier, not by the revoke: its history is unchanged.
  auto at = h_.Get("a", "", before);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->kvs_size(), 0);
}

TEST_F(LeaseStoreTest, PutAndTxnWithUnknownLeaseFail) {
  const int64_t before = h_.store().revision();
  auto put = PutLease("k", 99);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(put.status().message(), "etcdserver: requested lease not found");

  etcdserverpb::TxnRequest txn;
  auto* ok_put = txn.add_success()->mutable_request_put();
  ok_put->set_key("plain");
  ok_put->set_value("v");
  auto* bad_put = txn.add_success()->mutable_request_put();
  bad_put->set_key("leased");
  bad_put->set_value("v");
  bad_put->set_lease(99);
  auto r = h_.ApplyOne<TxnResponse>(txn);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "etcdserver: requested lease not found");

  // Nested on the path taken: checked too.
  etcdserverpb::TxnRequest nested;
  auto* inner = nested.add_success()->mutable_request_txn();
  *inner->add_success()->mutable_request_put() = *bad_put;
  auto n = h_.ApplyOne<TxnResponse>(nested);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kNotFound);

  // In a branch that does not run: not checked, as etcd's checkRequests
  // follows only the txn path (etcdserver/apply.go).
  etcdserverpb::TxnRequest untaken;
  *untaken.add_failure()->mutable_request_put() = *bad_put;
  EXPECT_TRUE(h_.ApplyOne<TxnResponse>(untaken).ok());

  EXPECT_EQ(h_.store().revision(), before);
  EXPECT_EQ(LeaseOf("plain"), -1);
  EXPECT_EQ(LeaseOf("leased"), -1);
}

TEST_F(LeaseStoreTest, TxnPutWithLeaseAndLeaseCompare) {
  ASSERT_TRUE(Grant(5, 10).ok());
  etcdserverpb::TxnRequest txn;
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key("t");
  put->set_value("v");
  put->set_lease(5);
  ASSERT_TRUE(h_.ApplyOne<TxnResponse>(txn).ok());
  EXPECT_EQ(Keys(5), std::vector<std::string>{"t"});

  etcdserverpb::TxnRequest cmp;
  auto* c = cmp.add_compare();
  c->set_key("t");
  c->set_target(etcdserverpb::Compare::LEASE);
  c->set_result(etcdserverpb::Compare::EQUAL);
  c->set_lease(5);
  auto r = h_.ApplyOne<TxnResponse>(cmp);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded());
  c->set_lease(6);
  r = h_.ApplyOne<TxnResponse>(cmp);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->succeeded());
}

TEST_F(LeaseStoreTest, CheckpointRecordsRemainingTtlOfExistingLeases) {
  ASSERT_TRUE(Grant(1, 100).ok());
  kvpb::LeaseCheckpoint cp;
  auto* r1 = cp.add_leases();
  r1->set_id(1);
  r1->set_remaining_ttl(42);
  auto* r2 = cp.add_leases();  // unknown: ignored, not created
  r2->set_id(2);
  r2->set_remaining_ttl(5);
  ASSERT_TRUE(h_.ApplyOne<std::monostate>(cp).ok());
  auto leases = h_.store().Leases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].id(), 1);
  EXPECT_EQ((*leases)[0].ttl(), 100);
  EXPECT_EQ((*leases)[0].remaining_ttl(), 42);
}

TEST_F(LeaseStoreTest, ReopenPreservesLeasesIndexAndCheckpoints) {
  ASSERT_TRUE(Grant(1, 100).ok());
  ASSERT_TRUE(PutLease("a", 1).ok());
  kvpb::LeaseCheckpoint cp;
  cp.add_leases()->set_id(1);
  cp.mutable_leases(0)->set_remaining_ttl(37);
  ASSERT_TRUE(h_.ApplyOne<std::monostate>(cp).ok());
  ASSERT_TRUE(h_.store().Sync().ok());

  h_.Reopen();
  auto leases = h_.store().Leases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].remaining_ttl(), 37);
  EXPECT_EQ(Keys(1), std::vector<std::string>{"a"});
  ASSERT_TRUE(Revoke(1).ok());
  EXPECT_EQ(LeaseOf("a"), -1);
}

// A follower that installs a snapshot copy has the same leases and index.
TEST(LeaseSnapshotTest, SnapshotCopyPreservesLeases) {
  char tmpl[] = "/tmp/lease_store_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    auto opened = MvccStore::Open(dir + "/src", MvccOptions());
    ASSERT_TRUE(opened.ok()) << opened.status();
    std::shared_ptr<MvccStore> src = *std::move(opened);
    uint64_t index = 0;
    auto apply = [&](ApplyCommand::Request request) {
      ApplyCommand cmd{++index, request};
      auto results = src->Apply({&cmd, 1});
      ASSERT_TRUE(results.ok()) << results.status();
      ASSERT_TRUE((*results)[0].ok()) << (*results)[0].status();
    };
    kvpb::LeaseGrant grant;
    grant.set_id(11);
    grant.set_ttl(60);
    apply(&grant);
    etcdserverpb::PutRequest put;
    put.set_key("svc/a");
    put.set_value("up");
    put.set_lease(11);
    apply(&put);
    kvpb::LeaseCheckpoint cp;
    cp.add_leases()->set_id(11);
    cp.mutable_leases(0)->set_remaining_ttl(21);
    apply(&cp);

    auto source = NewSnapshotSource(src, kvpb::MemberList());
    auto sink = NewSnapshotSink(dir + "/dst", dir + "/members.pb");
    ASSERT_TRUE(sink.ok()) << sink.status();
    std::string chunk;
    for (;;) {
      auto more = source->Next(&chunk);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) break;
      ASSERT_TRUE((*sink)->Write(chunk).ok());
    }
    ASSERT_TRUE((*sink)->Finish().ok());
  }
  {
    auto dst = MvccStore::Open(dir + "/dst", MvccOptions());
    ASSERT_TRUE(dst.ok()) << dst.status();
    auto leases = (*dst)->Leases();
    ASSERT_TRUE(leases.ok());
    ASSERT_EQ(leases->size(), 1u);
    EXPECT_EQ((*leases)[0].id(), 11);
    EXPECT_EQ((*leases)[0].ttl(), 60);
    EXPECT_EQ((*leases)[0].remaining_ttl(), 21);
    auto keys = (*dst)->LeaseKeys(11);
    ASSERT_TRUE(keys.ok());
    EXPECT_EQ(*keys, std::vector<std::string>{"svc/a"});
    const int64_t before = (*dst)->revision();
    kvpb::LeaseRevoke revoke;
    revoke.set_id(11);
    ApplyCommand cmd{(*dst)->applied_index() + 1, &revoke};
    auto results = (*dst)->Apply({&cmd, 1});
    ASSERT_TRUE(results.ok());
    ASSERT_TRUE((*results)[0].ok()) << (*results)[0].status();
    EXPECT_EQ((*dst)->revision(), before + 1);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace raftkv::kv
