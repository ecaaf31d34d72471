// fuzz_client_request: the client request path. Input: one selector byte,
// then one serialized request of etcd's API (rpc/rpc.proto, kv/kvpb.proto):
//   0 RangeRequest        1 PutRequest          2 DeleteRangeRequest
//   3 TxnRequest (nested) 4 CompactionRequest   5 LeaseGrantRequest
//   6 LeaseRevokeRequest  7 WatchRequest        8 kvpb::InternalRequest
// The request goes through the checks the server makes before proposing it
// (kv/validate.h as rpc/server/kv_service.cc calls them; the TTL bound and
// defaults of rpc/server/lease_service.cc; WatchSpec::Normalize as the watch
// hub does), and then — validated or not, since MvccStore::Apply promises to
// refuse on its own what validation refuses — it is applied as the next Raft
// entry to a fresh MvccStore on an in-memory LevelDB Env, holding a few keys,
// a lease and some compacted history. Selector 8 is a raw log entry as the
// state machine decodes it (kv/state_machine.cc), with no server in front.
// Afterwards the whole store is read back (Range, the change log, physical
// compaction) so that what the request wrote is exercised too.
//
// Findings: any crash or sanitizer report; a request the server refuses but
// the store applies (Put, DeleteRange, Txn, Range); a store that stops
// accepting writes (the outer Apply status is for storage failures only).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "kv/lessor.h"
#include "kv/mvcc_store.h"
#include "kv/validate.h"
#include "kv/watch/types.h"
#include "leveldb/helpers/memenv.h"
#include "rpc/rpc.pb.h"

namespace {

using raftkv::kv::ApplyCommand;
using raftkv::kv::ApplyResponse;
using raftkv::kv::MvccStore;
namespace etcd = etcdserverpb;
namespace kvpb = raftkv::kvpb;

[[noreturn]] void Finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// EtcdServer's default min_lease_ttl (rpc/server/etcd_server.h).
constexpr int64_t kMinLeaseTtl = 2;
// The lease id the server would pick for a grant without one.
constexpr int64_t kServerLeaseId = 0x1000;

// A store on an in-memory Env: keys a, b, c (b twice), lease 7 holding key
// "l", key "d" deleted, history compacted at revision 3.
class Store {
 public:
  Store() : env_(leveldb::NewMemEnv(leveldb::Env::Default())) {
    raftkv::kv::MvccOptions options;
    options.env = env_.get();
    auto opened = MvccStore::Open("/db", options);
    if (!opened.ok()) Finding(opened.status().ToString());
    store_ = std::move(*opened);
    Put("a", "1");
    Put("b", "2");
    Put("b", "3");
    Put("c", "4");
    kvpb::LeaseGrant grant;
    grant.set_id(7);
    grant.set_ttl(60);
    Must(Apply(&grant));
    etcd::PutRequest leased;
    leased.set_key("l");
    leased.set_value("5");
    leased.set_lease(7);
    Must(Apply(&leased));
    Put("d", "6");
    etcd::DeleteRangeRequest del;
    del.set_key("d");
    Must(Apply(&del));
    etcd::CompactionRequest compact;
    compact.set_revision(3);
    Must(Apply(&compact));
  }
  ~Store() { store_.reset(); }

  MvccStore& store() { return *store_; }

  // Applies one request as the next entry; returns its own result.
  template <typename Req>
  absl::StatusOr<ApplyResponse> Apply(const Req* req) {
    ApplyCommand cmd{store_->applied_index() + 1, req};
    auto results = store_->Apply({&cmd, 1});
    if (!results.ok()) {
      Finding(absl::StrCat("store refused a write batch: ",
                           results.status().ToString()));
    }
    return (*results)[0];
  }

 private:
  static void Must(const absl::StatusOr<ApplyResponse>& r) {
    if (!r.ok()) Finding(absl::StrCat("setup: ", r.status().ToString()));
  }
  void Put(const std::string& k, const std::string& v) {
    etcd::PutRequest req;
    req.set_key(k);
    req.set_value(v);
    Must(Apply(&req));
  }

  std::unique_ptr<leveldb::Env> env_;
  std::unique_ptr<MvccStore> store_;
};

// A request the server refused must not change the store either.
void ExpectRefused(const absl::Status& validation,
                   const absl::StatusOr<ApplyResponse>& applied,
                   const char* what) {
  if (!validation.ok() && applied.ok()) {
    Finding(absl::StrCat(what, " refused by validation (",
                         validation.ToString(), ") but applied by the store"));
  }
}

template <typename Req>
bool Parse(Req* req, const uint8_t* data, size_t size) {
  return req->ParseFromArray(data, static_cast<int>(size));
}

// Reads everything back: every key at the current revision, the change log
// from the compact revision, and the physical compaction.
void ReadBack(MvccStore& s) {
  etcd::RangeRequest all;
  all.set_key(std::string(1, '\0'));
  all.set_range_end(std::string(1, '\0'));
  s.Range(all).IgnoreError();
  s.ReadChanges(s.compact_revision(), s.revision(), 0, /*prev_kv=*/true)
      .IgnoreError();
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<bool> done = s.CompactStep(2);
    if (!done.ok() || *done) break;
  }
  s.Leases().IgnoreError();
}

void Watch(MvccStore& s, const etcd::WatchRequest& req) {
  if (!req.has_create_request()) return;  // cancel/progress: no validation
  const etcd::WatchCreateRequest& r = req.create_request();
  // As rpc/server/watch_service.cc's SpecFrom, then the hub's checks.
  raftkv::kv::watch::WatchSpec spec;
  spec.key = r.key();
  spec.range_end = r.range_end();
  spec.start_revision = r.start_revision();
  spec.watch_id = r.watch_id();
  spec.prev_kv = r.prev_kv();
  for (int f : r.filters()) {
    if (f == etcd::WatchCreateRequest::NOPUT) spec.no_put = true;
    if (f == etcd::WatchCreateRequest::NODELETE) spec.no_delete = true;
  }
  if (!spec.Normalize().ok()) return;
  if (spec.start_revision <= 0) return;  // "now": no backlog to read
  // A watcher in the past reads its backlog as the hub's catch-up does.
  auto batch =
      s.ReadChanges(spec.start_revision, s.revision(), 1000, spec.prev_kv);
  if (!batch.ok()) return;
  for (const auto& e : batch->events) {
    if (spec.Contains(e.kv().key())) (void)spec.Accepts(e);
  }
}

void Internal(Store& st, const kvpb::InternalRequest& r) {
  switch (r.request_case()) {
    case kvpb::InternalRequest::kPut:
      st.Apply(&r.put()).IgnoreError();
      break;
    case kvpb::InternalRequest::kDeleteRange:
      st.Apply(&r.delete_range()).IgnoreError();
      break;
    case kvpb::InternalRequest::kTxn:
      st.Apply(&r.txn()).IgnoreError();
      break;
    case kvpb::InternalRequest::kCompaction:
      st.Apply(&r.compaction()).IgnoreError();
      break;
    case kvpb::InternalRequest::kLeaseGrant:
      st.Apply(&r.lease_grant()).IgnoreError();
      break;
    case kvpb::InternalRequest::kLeaseRevoke:
      st.Apply(&r.lease_revoke()).IgnoreError();
      break;
    case kvpb::InternalRequest::kLeaseCheckpoint:
      st.Apply(&r.lease_checkpoint()).IgnoreError();
      break;
    default:
      break;  // publish goes to the member registry, not the store
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Parsing invalid UTF-8 into a string field logs an error: not a finding.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t selector = data[0] % 9;
  ++data;
  --size;
  switch (selector) {
    case 0: {
      etcd::RangeRequest req;
      if (!Parse(&req, data, size)) return 0;
      const absl::Status v = raftkv::kv::ValidateRange(req);
      Store st;
      auto resp = st.store().Range(req);
      if (!v.ok() && resp.ok())
        Finding("range refused by validation but served");
      ReadBack(st.store());
      break;
    }
    case 1: {
      etcd::PutRequest req;
      if (!Parse(&req, data, size)) return 0;
      const absl::Status v = raftkv::kv::ValidatePut(req);
      Store st;
      ExpectRefused(v, st.Apply(&req), "put");
      ReadBack(st.store());
      break;
    }
    case 2: {
      etcd::DeleteRangeRequest req;
      if (!Parse(&req, data, size)) return 0;
      const absl::Status v = raftkv::kv::ValidateDeleteRange(req);
      Store st;
      ExpectRefused(v, st.Apply(&req), "delete range");
      ReadBack(st.store());
      break;
    }
    case 3: {
      etcd::TxnRequest req;
      if (!Parse(&req, data, size)) return 0;
      const absl::Status v = raftkv::kv::ValidateTxn(req);
      Store st;
      ExpectRefused(v, st.Apply(&req), "txn");
      ReadBack(st.store());
      break;
    }
    case 4: {
      etcd::CompactionRequest req;
      if (!Parse(&req, data, size)) return 0;
      Store st;  // the server proposes compactions unchecked
      st.Apply(&req).IgnoreError();
      ReadBack(st.store());
      break;
    }
    case 5: {
      etcd::LeaseGrantRequest req;
      if (!Parse(&req, data, size)) return 0;
      if (req.ttl() > raftkv::kv::kMaxLeaseTtl) return 0;  // refused
      kvpb::LeaseGrant grant;
      grant.set_id(req.id() != 0 ? req.id() : kServerLeaseId);
      grant.set_ttl(std::max(req.ttl(), kMinLeaseTtl));
      Store st;
      st.Apply(&grant).IgnoreError();
      ReadBack(st.store());
      break;
    }
    case 6: {
      etcd::LeaseRevokeRequest req;
      if (!Parse(&req, data, size)) return 0;
      kvpb::LeaseRevoke revoke;
      revoke.set_id(req.id());
      Store st;
      st.Apply(&revoke).IgnoreError();
      ReadBack(st.store());
      break;
    }
    case 7: {
      etcd::WatchRequest req;
      if (!Parse(&req, data, size)) return 0;
      Store st;
      Watch(st.store(), req);
      break;
    }
    default: {
      kvpb::InternalRequest req;
      if (!Parse(&req, data, size)) return 0;
      Store st;
      Internal(st, req);
      ReadBack(st.store());
      break;
    }
  }
  return 0;
}
