// Scenario tests of the watch hub, in-process on an in-memory store: the
// basic contract, and named regressions for the watch bugs etcd has had
// (issue 5, bar point 6; DESIGN.md "Watch").
#include <gtest/gtest.h>

#include "tests/kv/watch_test_util.h"

namespace raftkv::kv::testing {
namespace {

using Kind = watch::WatchMessage::Kind;

std::vector<int64_t> Revisions(const std::vector<mvccpb::Event>& events) {
  std::vector<int64_t> out;
  for (const auto& e : events) out.push_back(e.kv().mod_revision());
  return out;
}

TEST(WatchHubTest, CreatedFirstThenLiveEventsWithHeaderRevision) {
  WatchFixture f;
  f.Put("a", "0");  // rev 2
  f.Settle();
  TestClient c(&f.hub());
  c.stream().Create(Spec("a"));
  ASSERT_TRUE(c.ReadUntil([&] { return !c.received().empty(); }));
  EXPECT_EQ(c.received()[0].kind, Kind::kCreated);
  EXPECT_EQ(c.received()[0].revision, 2);
  f.Put("a", "1");  // rev 3
  f.Put("b", "x");  // rev 4, not watched
  f.Put("a", "2");  // rev 5
  ASSERT_TRUE(c.ReadUntil([&] { return c.EventsOf(0).size() == 2; }));
  EXPECT_EQ(Revisions(c.EventsOf(0)), (std::vector<int64_t>{3, 5}));
  for (const Received& r : c.For(0)) {
    if (r.kind != Kind::kEvents) continue;
    EXPECT_GE(r.revision, r.events.back().kv().mod_revision());
  }
}

// Regression (etcd #11496, Jepsen): start_revision 0 means "now", i.e. the
// revision after the one the created response reports — not revision 1.
TEST(WatchHubTest, StartRevisionZeroMeansNow) {
  WatchFixture f;
  f.Put("k", "old");
  f.Settle();
  TestClient c(&f.hub());
  c.stream().Create(Spec("k"));
  ASSERT_TRUE(c.ReadUntil([&] { return !c.received().empty(); }));
  f.Put("k", "new");
  ASSERT_TRUE(c.ReadUntil([&] { return c.EventsOf(0).size() == 1; }));
  EXPECT_EQ(c.EventsOf(0)[0].kv().value(), "new");
  EXPECT_EQ(c.received()[0].revision + 1, c.EventsOf(0)[0].kv().mod_revision());
}

TEST(WatchHubTest, PastStartReplaysHistoryThenLiveWithoutGapOrDuplicate) {
  WatchFixture f;
  for (int i = 0; i < 50; ++i) f.Put("p/" + std::to_string(i % 7), "v");
  f.Settle();
  TestClient c(&f.hub());
  c.stream().Create(Spec("p/", "p0", 1));
  for (int i = 0; i < 50; ++i) f.Put("p/" + std::to_string(i % 5), "w");
  ASSERT_TRUE(c.ReadUntil([&] { return c.EventsOf(0).size() == 100; }));
  std::vector<int64_t> want;
  for (int64_t r = 2; r <= 101; ++r) want.push_back(r);
  EXPECT_EQ(Revisions(c.EventsOf(0)), want);
}

TEST(WatchHubTest, FiltersPrevKvAndIsCreate) {
  WatchFixture f;
  TestClient c(&f.hub());
  auto s = Spec("k");
  s.prev_kv = true;
  s.no_put = false;
  c.stream().Create(s);
  auto nodel = Spec("k");
  nodel.no_delete = true;
  nodel.watch_id = 7;
  c.stream().Create(nodel);
  auto noput = Spec("k");
  noput.no_put = true;
  noput.watch_id = 8;
  c.stream().Create(noput);
  f.Put("k", "1");
  f.Put("k", "2");
  f.Delete("k");
  ASSERT_TRUE(c.ReadUntil([&] {
    return c.EventsOf(0).size() == 3 && c.EventsOf(7).size() == 2 &&
           c.EventsOf(8).size() == 1;
  }));
  auto ev = c.EventsOf(0);
  EXPECT_EQ(ev[0].kv().version(), 1);  // is_create
  EXPECT_FALSE(ev[0].has_prev_kv());
  EXPECT_EQ(ev[1].prev_kv().value(), "1");
  EXPECT_EQ(ev[2].type(), mvccpb::Event::DELETE);
  EXPECT_EQ(ev[2].prev_kv().value(), "2");
  EXPECT_FALSE(c.EventsOf(7)[1].has_prev_kv());  // not asked for
  EXPECT_EQ(c.EventsOf(8)[0].type(), mvccpb::Event::DELETE);
}

TEST(WatchHubTest, DuplicateIdAndEmptyRangeAreRefused) {
  WatchFixture f;
  TestClient c(&f.hub());
  auto s = Spec("a");
  s.watch_id = 5;
  c.stream().Create(s);
  c.stream().Create(s);
  c.stream().Create(Spec("b", "a"));
  ASSERT_TRUE(c.ReadUntil([&] { return c.received().size() == 3; }));
  EXPECT_EQ(c.received()[0].watch_id, 5);
  EXPECT_EQ(c.received()[1].cancel_reason,
            "mvcc: duplicate watch ID provided on the WatchStream");
  EXPECT_EQ(c.received()[2].cancel_reason, "mvcc: watcher range is empty");
}

TEST(WatchHubTest, CancelDropsQueuedEventsAndNothingFollows) {
  WatchFixture f;
  TestClient c(&f.hub());
  c.stream().Create(Spec("a"));
  c.Read();
  for (int i = 0; i < 5; ++i) f.Put("a", "v");
  f.Settle();
  c.stream().Cancel(0);
  f.Put("a", "after");
  f.Settle();
  c.Read();
  ASSERT_EQ(c.received().back().kind, Kind::kCanceled);
  EXPECT_EQ(c.received().back().watch_id, 0);
}

TEST(WatchHubTest, CompactedStartIsCanceledWithCompactRevision) {
  WatchFixture f;
  for (int i = 0; i < 10; ++i) f.Put("a", std::to_string(i));
  f.Compact(6);
  f.Settle();
  TestClient c(&f.hub());
  c.stream().Create(Spec("a", "", 3));
  ASSERT_TRUE(c.ReadUntil([&] { return c.received().size() == 2; }));
  EXPECT_EQ(c.received()[0].kind, Kind::kCreated);
  EXPECT_EQ(c.received()[1].kind, Kind::kCanceled);
  EXPECT_EQ(c.received()[1].compact_revision, 6);
}

// Regression (etcd #12155-style): a watch opened exactly at the compaction
// revision must still see the event at that revision — here a delete.
TEST(WatchHubTest, WatchAtCompactRevisionSeesItsDelete) {
  WatchFixture f;
  f.Put("a", "1");                    // 2
  const int64_t del = f.Delete("a");  // 3
  f.Put("b", "1");                    // 4
  f.Compact(del);
  f.Settle();
  TestClient c(&f.hub());
  c.stream().Create(Spec("a", "", del));
  ASSERT_TRUE(c.ReadUntil([&] { return c.EventsOf(0).size() == 1; }));
  EXPECT_EQ(c.EventsOf(0)[0].type(), mvccpb::Event::DELETE);
  EXPECT_EQ(c.EventsOf(0)[0].kv().mod_revision(), del);
}

// Regression: a watch on a future revision gets neither older events nor a
// progress notification below its start (a resuming client would go back).
TEST(WatchHubTest, FutureRevisionGetsNoOldEventsOrEarlyNotifications) {
  watch::HubOptions o;
  o.progress_interval = absl::Milliseconds(5);
  WatchFixture f(o);
  TestClient c(&f.hub());
  auto s = Spec("a");
  s.start_revision = 10;
  s.progress_notify = true;
  c.stream().Create(s);
  for (int i = 0; i < 6; ++i) f.Put("a", "early");  // revs 2..7
  f.Settle();
  absl::SleepFor(absl::Milliseconds(30));  // several progress periods
  c.Read();
  for (const Received& r : c.For(0)) {
    EXPECT_NE(r.kind, Kind::kProgress) << "early notification " << r.revision;
    EXPECT_TRUE(r.events.empty());
  }
  for (int i = 0; i < 4; ++i) f.Put("a", "late");  // 8..11
  ASSERT_TRUE(c.ReadUntil([&] { return c.EventsOf(0).size() == 2; }));
  EXPECT_EQ(Revisions(c.EventsOf(0)), (std::vector<int64_t>{10, 11}));
}

// Regression (etcd #15220): a requested progress notification must not
// overtake events not yet sent: here the watcher lags (its stream is full)
// when the request arrives.
TEST(WatchHubTest, RequestedProgressNeverOvertakesUnsentEvents) {
  watch::HubOptions o;
  o.stream_capacity = 2;
  WatchFixture f(o);
  TestClient c(&f.hub());
  c.stream().Create(Spec("a"));
  for (int i = 0; i < 20; ++i) f.Put("a", std::to_string(i));
  f.Settle();
  c.stream().RequestProgress();
  ASSERT_TRUE(c.ReadUntil([&] {
    for (const auto& r : c.received()) {
      if (r.kind == Kind::kProgress) return true;
    }
    return false;
  }));
  int64_t seen = 0;
  for (const Received& r : c.received()) {
    if (r.kind == Kind::kEvents) seen = r.events.back().kv().mod_revision();
    if (r.kind == Kind::kProgress) {
      EXPECT_EQ(r.watch_id, -1);
      EXPECT_LE(r.revision, seen) << "progress ahead of unsent events";
      EXPECT_EQ(seen, 21);
    }
  }
}

// Regression (etcd #9211-style): one stream with hundreds of prev_kv
// watchers, read slowly, must still deliver every event to every watcher.
TEST(WatchHubTest, HundredsOfPrevKvWatchersOnASlowStreamLoseNothing) {
  watch::HubOptions o;
  o.stream_capacity = 8;
  WatchFixture f(o);
  TestClient c(&f.hub());
  constexpr int kWatchers = 300;
  for (int i = 0; i < kWatchers; ++i) {
    auto s = Spec("k/", "k0");
    s.prev_kv = true;
    c.stream().Create(s);
  }
  constexpr int kWrites = 40;
  for (int i = 0; i < kWrites; ++i) {
    f.Put("k/" + std::to_string(i % 3), std::to_string(i));
    c.Read(3);  // slowly
  }
  ASSERT_TRUE(c.ReadUntil([&] {
    for (int i = 0; i < kWatchers; ++i) {
      if (c.EventsOf(i).size() != kWrites) return false;
    }
    return true;
  }));
  for (int i = 0; i < kWatchers; ++i) {
    auto ev = c.EventsOf(i);
    for (int j = 0; j < kWrites; ++j) {
      ASSERT_EQ(ev[j].kv().mod_revision(), j + 2);
      if (j >= 3) {
        ASSERT_EQ(ev[j].prev_kv().value(), std::to_string(j - 3));
      }
    }
  }
}

// Regression (etcd #12100-style "travelling back in time"): a member that
// was partitioned catches up by installing a snapshot; its watchers continue
// from where they were, never re-delivering or skipping revisions.
TEST(WatchHubTest, SnapshotInstallNeverMovesAWatchBack) {
  WatchFixture f;
  TestClient c(&f.hub());
  c.stream().Create(Spec("a"));
  f.Put("a", "1");  // 2
  f.Settle();
  // The leader's store: the same first write, then more.
  auto leader = f.OpenStore("/leader");
  std::vector<ApplyCommand> cmds;
  std::vector<kvpb::InternalRequest> reqs;
  for (int i = 1; i <= 5; ++i)
    reqs.push_back(PutRequest("a", std::to_string(i)));
  for (size_t i = 0; i < reqs.size(); ++i) {
    cmds.push_back({i + 1, &reqs[i].put()});
  }
  ASSERT_TRUE(leader->Apply(cmds).ok());
  f.Swap(leader);
  f.Settle();
  ASSERT_TRUE(c.ReadUntil([&] { return c.EventsOf(0).size() == 5; }));
  EXPECT_EQ(Revisions(c.EventsOf(0)), (std::vector<int64_t>{2, 3, 4, 5, 6}));
}

TEST(WatchHubTest, SnapshotOfACompactedStoreCancelsWithCompactRevision) {
  WatchFixture f;
  TestClient c(&f.hub());
  c.stream().Create(Spec("a"));
  f.Put("a", "1");
  f.Settle();
  auto leader = f.OpenStore("/leader");
  std::vector<kvpb::InternalRequest> reqs;
  for (int i = 1; i <= 5; ++i) reqs.push_back(PutRequest("a", "x"));
  kvpb::InternalRequest compact;
  compact.mutable_compaction()->set_revision(5);
  reqs.push_back(compact);
  std::vector<ApplyCommand> cmds;
  for (size_t i = 0; i + 1 < reqs.size(); ++i) {
    cmds.push_back({i + 1, &reqs[i].put()});
  }
  cmds.push_back({reqs.size(), &reqs.back().compaction()});
  ASSERT_TRUE(leader->Apply(cmds).ok());
  f.Swap(leader);
  ASSERT_TRUE(c.ReadUntil([&] {
    return !c.received().empty() && c.received().back().kind == Kind::kCanceled;
  }));
  EXPECT_EQ(c.received().back().compact_revision, 5);
}

TEST(WatchHubTest, PeriodicProgressForIdleSyncedWatchers) {
  watch::HubOptions o;
  o.progress_interval = absl::Milliseconds(5);
  WatchFixture f(o);
  f.Put("x", "1");
  TestClient c(&f.hub());
  auto s = Spec("a");
  s.progress_notify = true;
  c.stream().Create(s);
  ASSERT_TRUE(c.ReadUntil([&] {
    for (const auto& r : c.received()) {
      if (r.kind == Kind::kProgress && r.watch_id == 0) return true;
    }
    return false;
  }));
}

}  // namespace
}  // namespace raftkv::kv::testing
