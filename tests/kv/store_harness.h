// Test harness: an MvccStore on an in-memory LevelDB Env that can be closed
// and reopened, with one-line helpers that apply a single request as the
// next Raft entry.
#ifndef RAFTKV_TESTS_KV_STORE_HARNESS_H_
#define RAFTKV_TESTS_KV_STORE_HARNESS_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "kv/mvcc_store.h"
#include "leveldb/helpers/memenv.h"

namespace raftkv::kv::testing {

class StoreHarness {
 public:
  // `meta_cache_entries` as MvccOptions (tests of the writer's cache pass
  // tiny sizes so that it overflows and starts over often).
  explicit StoreHarness(
      size_t meta_cache_entries = MvccOptions().meta_cache_entries)
      : env_(leveldb::NewMemEnv(leveldb::Env::Default())),
        meta_cache_entries_(meta_cache_entries) {
    Reopen();
  }
  ~StoreHarness() { store_.reset(); }

  MvccStore& store() { return *store_; }
  leveldb::Env* env() { return env_.get(); }
  // Reopen() uses `env` (e.g. a fault-injecting wrapper of env()) instead.
  void set_open_env(leveldb::Env* env) { open_env_ = env; }

  void Reopen() {
    store_.reset();
    MvccOptions options;
    options.env = open_env_ != nullptr ? open_env_ : env_.get();
    options.meta_cache_entries = meta_cache_entries_;
    auto opened = MvccStore::Open("/db", options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
  }

  // Grants leases first..last (TTL 60): a put may name only an existing
  // lease, as in etcd.
  void GrantLeases(int64_t first, int64_t last) {
    for (int64_t id = first; id <= last; ++id) {
      kvpb::LeaseGrant grant;
      grant.set_id(id);
      grant.set_ttl(60);
      ASSERT_TRUE(ApplyOne<kvpb::LeaseResult>(grant).ok());
    }
  }

  // Applies one request as entry applied_index()+1; returns its result.
  template <typename Resp, typename Req>
  absl::StatusOr<Resp> ApplyOne(const Req& req) {
    ApplyCommand cmd{store_->applied_index() + 1, &req};
    auto results = store_->Apply({&cmd, 1});
    EXPECT_TRUE(results.ok()) << results.status();
    if (!results.ok()) return results.status();
    absl::StatusOr<ApplyResponse>& r = (*results)[0];
    if (!r.ok()) return r.status();
    return std::get<Resp>(*std::move(r));
  }

  absl::StatusOr<etcdserverpb::PutResponse> Put(const std::string& key,
                                                const std::string& value) {
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    return ApplyOne<etcdserverpb::PutResponse>(req);
  }
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> Delete(
      const std::string& key, const std::string& end = "") {
    etcdserverpb::DeleteRangeRequest req;
    req.set_key(key);
    req.set_range_end(end);
    return ApplyOne<etcdserverpb::DeleteRangeResponse>(req);
  }
  absl::StatusOr<etcdserverpb::CompactionResponse> Compact(int64_t rev) {
    etcdserverpb::CompactionRequest req;
    req.set_revision(rev);
    return ApplyOne<etcdserverpb::CompactionResponse>(req);
  }
  absl::StatusOr<etcdserverpb::RangeResponse> Get(const std::string& key,
                                                  const std::string& end = "",
                                                  int64_t rev = 0) {
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    req.set_range_end(end);
    req.set_revision(rev);
    return store_->Range(req);
  }

 private:
  std::unique_ptr<leveldb::Env> env_;
  size_t meta_cache_entries_;
  leveldb::Env* open_env_ = nullptr;
  std::unique_ptr<MvccStore> store_;
};

}  // namespace raftkv::kv::testing

#endif  // RAFTKV_TESTS_KV_STORE_HARNESS_H_
