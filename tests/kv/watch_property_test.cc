// Property test of the watch hub (issue 5, bar point 2): a writer applies
// random puts, deletes and multi-key txns in batches while many watchers on
// overlapping ranges — some started in the past, some on slow streams, some
// cancelled and re-created from their next revision — read at random
// speeds. Afterwards each watcher's events must equal the committed history
// filtered to its range, checked as named guarantees: ordered, unique,
// atomic, reliable, resumable, bookmarkable, prev_kv, is_create, filters.
// Seeds are logged; RAFTKV_WATCH_SEED replays one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/kv/watch_test_util.h"

namespace raftkv::kv::testing {
namespace {

using Kind = watch::WatchMessage::Kind;

struct Logical {
  watch::WatchSpec spec;  // of the current incarnation
  int stream = 0;
  int64_t first_start = 0;  // effective start of the first incarnation
  int64_t next = 0;         // the revision to resume from
  int incarnation = 0;
  bool created_seen = false;
  std::vector<mvccpb::Event> events;
  // Revisions already seen in an earlier message (atomicity).
  std::set<int64_t> revisions;
  std::string violation;
};

// Client-chosen watch ids: unique per (watcher, incarnation).
constexpr int kMaxIncarnations = 1000;
int64_t IdOf(int logical, int incarnation) {
  return int64_t{logical} * kMaxIncarnations + incarnation + 1;
}

std::string RandomKey(std::mt19937_64& rng) {
  static const char* kPrefixes[] = {"a/", "b/", "c"};
  std::string k = kPrefixes[rng() % 3];
  if (k != "c") k += std::to_string(rng() % 8);
  return k;
}

kvpb::InternalRequest RandomRequest(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
      return DeleteRequest(RandomKey(rng));
    case 1:
      return DeleteRequest("b/", "b0");  // a whole prefix
    case 2: {
      // A multi-key txn: one revision, several events.
      std::vector<kvpb::InternalRequest> ops;
      std::set<std::string> keys;
      for (int i = 0; i < 3; ++i) keys.insert(RandomKey(rng));
      for (const auto& k : keys) {
        ops.push_back(rng() % 3 == 0 ? DeleteRequest(k)
                                     : PutRequest(k, std::to_string(rng())));
      }
      return TxnRequest(ops);
    }
    default:
      return PutRequest(RandomKey(rng), std::to_string(rng() % 1000));
  }
}

watch::WatchSpec RandomSpec(std::mt19937_64& rng, int64_t current) {
  watch::WatchSpec s;
  switch (rng() % 5) {
    case 0:
      s = Spec("a/", "a0");
      break;
    case 1:
      s = Spec("b/", "b0");
      break;
    case 2:
      s = Spec("a/3");
      break;
    case 3:
      s = Spec("", std::string(1, '\0'));
      break;  // everything
    default:
      s = Spec("a/5", "b/4");
      break;  // overlapping range
  }
  s.start_revision = rng() % 3 == 0 ? 0 : 1 + rng() % current;
  s.prev_kv = rng() % 2;
  s.no_put = rng() % 8 == 0;
  s.no_delete = !s.no_put && rng() % 8 == 0;
  return s;
}

class WatchPropertyTest : public ::testing::TestWithParam<int> {};

TEST_P(WatchPropertyTest, EveryWatcherSeesExactlyItsFilteredHistory) {
  uint64_t seed = 1000 + GetParam();
  if (const char* s = std::getenv("RAFTKV_WATCH_SEED")) seed = std::atoll(s);
  SCOPED_TRACE(::testing::Message() << "seed=" << seed);
  std::mt19937_64 rng(seed);
  watch::HubOptions options;
  options.stream_capacity = 4;  // slow streams fall back to catch-up often
  options.read_limit = 16;      // catch-up in many small batches
  WatchFixture f(options);
  for (int i = 0; i < 30; ++i) f.Apply({RandomRequest(rng)});

  constexpr int kStreams = 5;  // stream 0 is read only at the end
  constexpr int kWatchers = 40;
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < kStreams; ++i) {
    clients.push_back(std::make_unique<TestClient>(&f.hub()));
  }
  std::vector<Logical> w(kWatchers);
  // Bookmarks to check at the end: (watcher, revision, events so far).
  struct Bookmark {
    int watcher;
    int64_t revision;
    size_t events;
  };
  std::vector<Bookmark> bookmarks;
  std::vector<size_t> consumed(kStreams, 0);

  auto create = [&](int i) {
    Logical& l = w[i];
    l.spec.watch_id = IdOf(i, l.incarnation);
    l.created_seen = false;
    clients[l.stream]->stream().Create(l.spec);
  };
  for (int i = 0; i < kWatchers; ++i) {
    w[i].stream = i % kStreams;
    w[i].spec = RandomSpec(rng, f.store()->revision());
    w[i].first_start = w[i].spec.start_revision;
    w[i].next = w[i].spec.start_revision;
    create(i);
  }
  auto owner = [&](int64_t id) {
    return static_cast<int>((id - 1) / kMaxIncarnations);
  };
  auto process = [&](int s) {
    const auto& rec = clients[s]->received();
    for (; consumed[s] < rec.size(); ++consumed[s]) {
      const Received& r = rec[consumed[s]];
      if (r.kind == Kind::kProgress && r.watch_id == -1) {
        for (int i = 0; i < kWatchers; ++i) {
          if (w[i].stream == s && w[i].created_seen) {
            bookmarks.push_back({i, r.revision, w[i].events.size()});
          }
        }
        continue;
      }
      const int i = owner(r.watch_id);
      Logical& l = w[i];
      if (r.watch_id != IdOf(i, l.incarnation)) continue;  // cancelled one
      if (r.kind == Kind::kCreated) {
        l.created_seen = true;
        if (l.first_start == 0) l.first_start = l.next = r.revision + 1;
      } else if (r.kind == Kind::kEvents) {
        std::set<int64_t> here;
        for (const auto& e : r.events) {
          if (l.revisions.count(e.kv().mod_revision())) {
            l.violation = "atomic: a revision split across responses";
          }
          here.insert(e.kv().mod_revision());
          l.events.push_back(e);
        }
        l.revisions.insert(here.begin(), here.end());
        l.next = r.events.back().kv().mod_revision() + 1;
      } else if (r.kind == Kind::kCanceled) {
        l.violation = "unexpected cancel: " + r.cancel_reason;
      }
    }
  };

  std::atomic<bool> writing{true};
  std::thread writer([&] {
    std::mt19937_64 wrng(seed * 31);
    for (int b = 0; b < 400; ++b) {
      std::vector<kvpb::InternalRequest> batch;
      const int n = 1 + wrng() % 4;
      for (int i = 0; i < n; ++i) batch.push_back(RandomRequest(wrng));
      f.Apply(batch);
      if (wrng() % 4 == 0) std::this_thread::yield();
    }
    writing = false;
  });
  while (writing) {
    const int s = 1 + rng() % (kStreams - 1);
    clients[s]->Read(rng() % 6);
    process(s);
    if (rng() % 20 == 0) clients[s]->stream().RequestProgress();
    std::this_thread::yield();  // let the writer run on a loaded machine
    if (rng() % 15 == 0) {
      // Resumable: cancel and re-create from the next revision.
      const int i = rng() % kWatchers;
      if (w[i].stream != 0 && w[i].created_seen &&
          w[i].incarnation + 1 < kMaxIncarnations) {
        clients[w[i].stream]->stream().Cancel(IdOf(i, w[i].incarnation));
        ++w[i].incarnation;
        w[i].spec.start_revision = w[i].next;
        create(i);
      }
    }
  }
  writer.join();
  f.Settle();
  const int64_t final_rev = f.store()->revision();
  // Drain: every stream reports progress at the final revision.
  for (int s = 0; s < kStreams; ++s) {
    clients[s]->stream().RequestProgress();
    ASSERT_TRUE(clients[s]->ReadUntil([&] {
      const auto& rec = clients[s]->received();
      for (size_t k = consumed[s]; k < rec.size(); ++k) {
        if (rec[k].kind == Kind::kProgress && rec[k].revision == final_rev) {
          return true;
        }
      }
      return false;
    })) << "stream "
        << s;
    process(s);
  }

  auto history = f.store()->ReadChanges(1, final_rev, 0, /*prev_kv=*/true);
  ASSERT_TRUE(history.ok()) << history.status();
  // prev_kv and is_create in the history itself, against a replayed model.
  std::map<std::string, mvccpb::KeyValue> model;
  for (const auto& e : history->events) {
    auto it = model.find(e.kv().key());
    const bool had = it != model.end();
    if (had) {
      ASSERT_EQ(e.prev_kv().SerializeAsString(), it->second.SerializeAsString())
          << "prev_kv";
    } else {
      ASSERT_FALSE(e.has_prev_kv()) << "prev_kv of a new key";
    }
    if (e.type() == mvccpb::Event::PUT) {
      ASSERT_EQ(e.kv().version(), had ? it->second.version() + 1 : 1)
          << "is_create/version";
      ASSERT_EQ(e.kv().create_revision(),
                had ? it->second.create_revision() : e.kv().mod_revision());
      model[e.kv().key()] = e.kv();
    } else {
      model.erase(e.kv().key());
    }
  }
  size_t total = 0;
  for (int i = 0; i < kWatchers; ++i) {
    const Logical& l = w[i];
    SCOPED_TRACE(::testing::Message()
                 << "watcher " << i << " key=" << l.spec.key
                 << " start=" << l.first_start);
    EXPECT_EQ(l.violation, "");
    std::vector<std::string> want;
    for (const auto& e : history->events) {
      if (e.kv().mod_revision() < l.first_start) continue;
      if (!l.spec.Contains(e.kv().key()) || !l.spec.Accepts(e)) continue;
      mvccpb::Event copy = e;
      if (!l.spec.prev_kv) copy.clear_prev_kv();
      want.push_back(copy.SerializeAsString());
    }
    std::vector<std::string> got;
    int64_t last = 0;
    for (const auto& e : l.events) {
      EXPECT_GE(e.kv().mod_revision(), last)
          << "ordered, at event " << got.size() << " of " << l.events.size();
      last = e.kv().mod_revision();
      got.push_back(e.SerializeAsString());
    }
    std::set<std::string> unique(got.begin(), got.end());
    EXPECT_EQ(unique.size(), got.size()) << "unique";
    EXPECT_EQ(got.size(), want.size()) << "reliable (no gap) and resumable";
    if (got.size() != want.size()) {
      std::string revs;
      for (const auto& e : l.events) {
        revs += std::to_string(e.kv().mod_revision()) + " ";
      }
      std::printf("incarnations=%d next=%ld got: %s\n", l.incarnation,
                  static_cast<long>(l.next), revs.c_str());
    }
    EXPECT_TRUE(got == want) << "events differ from the filtered history";
    total += got.size();
  }
  for (const Bookmark& b : bookmarks) {
    const Logical& l = w[b.watcher];
    size_t due = 0;
    for (const auto& e : history->events) {
      if (e.kv().mod_revision() < l.first_start ||
          e.kv().mod_revision() > b.revision) {
        continue;
      }
      if (l.spec.Contains(e.kv().key()) && l.spec.Accepts(e)) ++due;
    }
    EXPECT_LE(due, b.events) << "bookmarkable: progress at " << b.revision
                             << " ran ahead of unsent events";
  }
  std::printf("seed=%lu revisions=%ld events_delivered=%zu bookmarks=%zu\n",
              static_cast<unsigned long>(seed), static_cast<long>(final_rev),
              total, bookmarks.size());
}

INSTANTIATE_TEST_SUITE_P(Seeds, WatchPropertyTest, ::testing::Range(0, 4));

}  // namespace
}  // namespace raftkv::kv::testing
