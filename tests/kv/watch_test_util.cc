#include "tests/kv/watch_test_util.h"

#include <utility>

#include "absl/time/clock.h"

namespace raftkv::kv::testing {

WatchFixture::WatchFixture(watch::HubOptions options)
    : env_(leveldb::NewMemEnv(leveldb::Env::Default())) {
  store_ = OpenStore("/db");
  hub_ = std::make_unique<watch::WatchHub>([this] { return store(); }, options);
}

WatchFixture::~WatchFixture() {
  hub_.reset();
  absl::MutexLock l(&mu_);
  store_.reset();
}

std::shared_ptr<MvccStore> WatchFixture::OpenStore(const std::string& dir) {
  MvccOptions options;
  options.env = env_.get();
  auto opened = MvccStore::Open(dir, options);
  EXPECT_TRUE(opened.ok()) << opened.status();
  return opened.ok() ? std::shared_ptr<MvccStore>(std::move(*opened)) : nullptr;
}

std::shared_ptr<MvccStore> WatchFixture::store() const {
  absl::MutexLock l(&mu_);
  return store_;
}

int64_t WatchFixture::Apply(const std::vector<kvpb::InternalRequest>& reqs) {
  std::vector<ApplyCommand> cmds(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    cmds[i].raft_index = next_index_++;
    const kvpb::InternalRequest& r = reqs[i];
    if (r.has_put()) cmds[i].request = &r.put();
    if (r.has_delete_range()) cmds[i].request = &r.delete_range();
    if (r.has_txn()) cmds[i].request = &r.txn();
    if (r.has_compaction()) cmds[i].request = &r.compaction();
  }
  std::shared_ptr<MvccStore> s = store();
  auto results = s->Apply(cmds);
  EXPECT_TRUE(results.ok()) << results.status();
  const int64_t rev = s->revision();
  hub_->Notify(rev);
  return rev;
}

int64_t WatchFixture::Put(const std::string& key, const std::string& value) {
  return Apply({PutRequest(key, value)});
}

int64_t WatchFixture::Delete(const std::string& key, const std::string& end) {
  return Apply({DeleteRequest(key, end)});
}

int64_t WatchFixture::Compact(int64_t revision) {
  kvpb::InternalRequest r;
  r.mutable_compaction()->set_revision(revision);
  return Apply({r});
}

void WatchFixture::Swap(std::shared_ptr<MvccStore> store) {
  const int64_t rev = store->revision();
  next_index_ = store->applied_index() + 1;
  {
    absl::MutexLock l(&mu_);
    store_ = std::move(store);
  }
  hub_->Notify(rev);
}

void WatchFixture::Settle() {
  ASSERT_TRUE(hub_->AwaitPublished(store()->revision(), absl::Seconds(10)));
}

TestClient::TestClient(watch::WatchHub* hub)
    : stream_(hub->OpenStream([] {})) {}

TestClient::~TestClient() { stream_->Close(); }

size_t TestClient::Read(size_t max) {
  size_t n = 0;
  watch::WatchMessage m;
  while (n < max && stream_->Pop(&m)) {
    Received r;
    r.kind = m.kind;
    r.watch_id = m.watch_id;
    r.revision = m.revision;
    r.compact_revision = m.compact_revision;
    r.cancel_reason = m.cancel_reason;
    for (uint32_t i : m.indices) {
      r.events.push_back(m.batch->events[i]);
      if (!m.prev_kv) r.events.back().clear_prev_kv();
    }
    received_.push_back(std::move(r));
    ++n;
  }
  return n;
}

std::vector<Received> TestClient::For(int64_t id, bool broadcasts) const {
  std::vector<Received> out;
  for (const Received& r : received_) {
    if (r.watch_id == id || (broadcasts && r.watch_id == -1)) {
      out.push_back(r);
    }
  }
  return out;
}

std::vector<mvccpb::Event> TestClient::EventsOf(int64_t id) const {
  std::vector<mvccpb::Event> out;
  for (const Received& r : For(id)) {
    out.insert(out.end(), r.events.begin(), r.events.end());
  }
  return out;
}

bool TestClient::ReadUntil(const std::function<bool()>& pred) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    if (Read() == 0) absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

kvpb::InternalRequest PutRequest(const std::string& key,
                                 const std::string& value) {
  kvpb::InternalRequest r;
  r.mutable_put()->set_key(key);
  r.mutable_put()->set_value(value);
  return r;
}

kvpb::InternalRequest DeleteRequest(const std::string& key,
                                    const std::string& end) {
  kvpb::InternalRequest r;
  r.mutable_delete_range()->set_key(key);
  r.mutable_delete_range()->set_range_end(end);
  return r;
}

kvpb::InternalRequest TxnRequest(
    const std::vector<kvpb::InternalRequest>& ops) {
  kvpb::InternalRequest r;
  for (const auto& op : ops) {
    etcdserverpb::RequestOp* o = r.mutable_txn()->add_success();
    if (op.has_put()) *o->mutable_request_put() = op.put();
    if (op.has_delete_range()) {
      *o->mutable_request_delete_range() = op.delete_range();
    }
  }
  return r;
}

watch::WatchSpec Spec(const std::string& key, const std::string& end,
                      int64_t start) {
  watch::WatchSpec s;
  s.key = key;
  s.range_end = end;
  s.start_revision = start;
  return s;
}

}  // namespace raftkv::kv::testing
