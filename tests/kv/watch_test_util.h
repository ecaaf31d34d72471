// Test helpers for the watch hub: a swappable in-memory store that stands
// in for the state machine (apply + revision observer), and a client of one
// WatchStream that records what it receives.
#ifndef RAFTKV_TESTS_KV_WATCH_TEST_UTIL_H_
#define RAFTKV_TESTS_KV_WATCH_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "kv/mvcc_store.h"
#include "kv/watch/watch_hub.h"
#include "leveldb/helpers/memenv.h"

namespace raftkv::kv::testing {

// An MvccStore behind a shared_ptr (as StateMachine::store() hands out) that
// a test can swap for another store (a snapshot install), plus the hub it
// feeds. Writes go through Apply(), which notifies the hub like the apply
// thread does.
// Thread safety: Apply/Swap on one thread; store() from any.
class WatchFixture {
 public:
  explicit WatchFixture(watch::HubOptions options = {});
  ~WatchFixture();

  std::shared_ptr<MvccStore> store() const;
  watch::WatchHub& hub() { return *hub_; }

  // Applies the requests as one batch of entries; returns the new revision.
  int64_t Apply(const std::vector<kvpb::InternalRequest>& requests);
  int64_t Put(const std::string& key, const std::string& value);
  int64_t Delete(const std::string& key, const std::string& end = "");
  int64_t Compact(int64_t revision);
  // Replaces the store with a fresh one at `dir` (a snapshot install) and
  // notifies the hub.
  void Swap(std::shared_ptr<MvccStore> store);
  // Opens another store on the same in-memory env.
  std::shared_ptr<MvccStore> OpenStore(const std::string& dir);
  // Waits until the hub has published the store's revision.
  void Settle();

 private:
  std::unique_ptr<leveldb::Env> env_;
  mutable absl::Mutex mu_;
  std::shared_ptr<MvccStore> store_ ABSL_GUARDED_BY(mu_);
  uint64_t next_index_ = 1;
  std::unique_ptr<watch::WatchHub> hub_;
};

// What a client saw: one record per message, events copied.
struct Received {
  watch::WatchMessage::Kind kind;
  int64_t watch_id = 0;
  int64_t revision = 0;
  int64_t compact_revision = 0;
  std::string cancel_reason;
  std::vector<mvccpb::Event> events;
};

// One stream and everything read from it.
// Thread safety: not thread-safe; one test thread.
class TestClient {
 public:
  explicit TestClient(watch::WatchHub* hub);
  ~TestClient();
  watch::WatchStream& stream() { return *stream_; }
  // Pops up to `max` messages; returns how many.
  size_t Read(size_t max = SIZE_MAX);
  const std::vector<Received>& received() const { return received_; }
  // Messages for one watch id (and, with broadcasts, for -1 too).
  std::vector<Received> For(int64_t id, bool broadcasts = false) const;
  // All events received for watch `id`, in order.
  std::vector<mvccpb::Event> EventsOf(int64_t id) const;
  // Reads until `pred` holds or 5 s pass; returns whether it held.
  bool ReadUntil(const std::function<bool()>& pred);

 private:
  std::shared_ptr<watch::WatchStream> stream_;
  std::vector<Received> received_;
};

kvpb::InternalRequest PutRequest(const std::string& key,
                                 const std::string& value);
kvpb::InternalRequest DeleteRequest(const std::string& key,
                                    const std::string& end = "");
// A txn with no compares whose success branch runs `ops`.
kvpb::InternalRequest TxnRequest(const std::vector<kvpb::InternalRequest>& ops);
watch::WatchSpec Spec(const std::string& key, const std::string& end = "",
                      int64_t start = 0);

}  // namespace raftkv::kv::testing

#endif  // RAFTKV_TESTS_KV_WATCH_TEST_UTIL_H_
