// Watch checker: one valid hand-written history, then one change per
// guarantee that must be named in the verdict.
#include "jepsen/checker/watch.h"

#include "gtest/gtest.h"

namespace raftkv::jepsen {
namespace {

constexpr int64_t P = 1, D = 2;  // put, delete

WatchEvent Ev(int64_t rev, int64_t type, int64_t k, int64_t v, int64_t create,
              int64_t version) {
  return WatchEvent{rev, type, k, v, create, version, false, 0, 0};
}
WatchEvent Prev(WatchEvent e, int64_t value, int64_t mod) {
  e.has_prev = true;
  e.prev_value = value;
  e.prev_mod_revision = mod;
  return e;
}
WatchEvent NoPrev(WatchEvent e) {
  e.has_prev = false;
  e.prev_value = e.prev_mod_revision = 0;
  return e;
}

// The committed history (as the prev_kv final watch sees it):
//   2 put k0=100 | 3 txn put k1=101, put k0=102 | 4 delete k1 | 5 put k1=103
const WatchEvent E2 = Ev(2, P, 0, 100, 2, 1);
const WatchEvent E3a = Ev(3, P, 1, 101, 3, 1);
const WatchEvent E3b = Prev(Ev(3, P, 0, 102, 2, 2), 100, 2);
const WatchEvent E4 = Prev(Ev(4, D, 1, 0, 0, 0), 101, 3);
const WatchEvent E5 = Ev(5, P, 1, 103, 5, 1);
const WatchEvent Sentinel = Ev(6, P, kWatchSentinelKey, 0, 6, 1);

int64_t t = 0;  // record times, increasing

Op Record(int64_t process, std::string f, std::vector<int64_t> value,
          bool list = true) {
  Op op;
  op.process = process;
  op.f = std::move(f);
  op.key = "w";
  op.has_value = true;
  op.is_list = list;
  op.value = std::move(value);
  op.start = op.end = ++t;
  return op;
}
Op Write(std::string f, std::vector<std::vector<int64_t>> writes, int64_t rev,
         OpType type = OpType::kOk) {
  Op op = Record(100, std::move(f), {rev}, false);
  op.key = "jw";
  op.events = std::move(writes);
  op.type = type;
  if (type != OpType::kOk) op.has_value = false, op.value.clear();
  return op;
}
Op Created(int64_t w, int64_t start, int64_t header, bool prev_kv,
           bool progress) {
  return Record(w, "watch-created", {start, header, prev_kv, progress});
}
Op Events(int64_t w, std::vector<WatchEvent> events,
          std::string f = "watch-events") {
  Op op = Record(w, std::move(f), {events.back().revision}, false);
  for (const WatchEvent& e : events) op.events.push_back(e.ToList());
  return op;
}
Op Progress(int64_t w, int64_t rev) {
  return Record(w, "watch-progress", {rev}, false);
}
Op Error(int64_t w) {
  Op op = Record(w, "watch-error", {}, false);
  op.has_value = false;
  op.type = OpType::kFail;
  return op;
}

struct Parts {
  std::vector<Op> writes = {
      Write("put", {{P, 0, 100}}, 2),
      Write("txn", {{P, 1, 101}, {P, 0, 102}}, 3),
      Write("delete", {{D, 1, 1}}, 4),
      Write("put", {{P, 1, 103}}, 0, OpType::kInfo),
      Write("delete", {{D, 5, 0}}, 5),  // deleted nothing: no event
  };
  // w0: no prev_kv, progress, from "now" (header 1 -> start 2), restarted
  // at 4 after a progress notification at 3.
  std::vector<Op> w0 = {
      Created(0, 0, 1, false, true),
      Events(0, {E2}),
      Events(0, {E3a, NoPrev(E3b)}),
      Progress(0, 3),
      Error(0),
      Created(0, 4, 5, false, true),
      Events(0, {NoPrev(E4), E5}),
  };
  // w1: prev_kv from revision 1.
  std::vector<Op> w1 = {
      Created(1, 1, 3, true, false),
      Events(1, {E2, E3a, E3b}),
      Events(1, {E4}),
      Events(1, {E5}),
  };
  std::vector<Op> committed = {
      Events(1'000'000, {E2, E3a, E3b}, "committed"),
      Events(1'000'000, {E4, E5, Sentinel}, "committed"),
      Record(1'000'000, "committed-end", {6}, false),
  };

  std::vector<Op> History() const {
    std::vector<Op> h = writes;
    h.insert(h.end(), w0.begin(), w0.end());
    h.insert(h.end(), w1.begin(), w1.end());
    h.insert(h.end(), committed.begin(), committed.end());
    return h;
  }
};

// Expects exactly `guarantee` to be violated.
void ExpectOnly(const Parts& p, const std::string& guarantee) {
  WatchReport r = CheckWatch(p.History());
  EXPECT_EQ(r.verdict, Verdict::kInvalid) << r.Describe();
  ASSERT_EQ(r.violations.size(), 1u) << r.Describe();
  EXPECT_EQ(r.violations.begin()->first, guarantee) << r.Describe();
}

TEST(WatchChecker, ValidHistory) {
  WatchReport r = CheckWatch(Parts().History());
  EXPECT_EQ(r.verdict, Verdict::kValid) << r.Describe();
  EXPECT_EQ(r.watchers, 2);
  EXPECT_EQ(r.incarnations, 3);
  EXPECT_EQ(r.committed_revisions, 4);
  EXPECT_EQ(r.events_received, 10);
  EXPECT_EQ(r.progress_notifications, 1);
}

TEST(WatchChecker, EventHistoryRoundTrips) {
  Parts p;
  for (const Op& op : p.History()) {
    auto again = ParseOp(FormatOp(op));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->events, op.events);
  }
}

TEST(WatchChecker, Ordered) {
  Parts p;
  p.w1 = {Created(1, 1, 3, true, false), Events(1, {E3a, E3b}), Events(1, {E2}),
          Events(1, {E4}), Events(1, {E5})};
  ExpectOnly(p, "ordered");
}

TEST(WatchChecker, Unique) {
  Parts p;
  p.w1.push_back(Events(1, {E4}));
  ExpectOnly(p, "unique");
}

TEST(WatchChecker, Atomic) {
  Parts p;
  p.w1[1] = Events(1, {E2, E3a});
  p.w1.insert(p.w1.begin() + 2, Events(1, {E3b}));
  ExpectOnly(p, "atomic");
}

TEST(WatchChecker, Reliable) {
  Parts p;
  p.w1.erase(p.w1.begin() + 2);  // revision 4 never arrives
  ExpectOnly(p, "reliable");
}

TEST(WatchChecker, ResumableGoesBack) {
  Parts p;
  p.w0.back() = Events(0, {E3a, NoPrev(E3b)});  // re-created at 4
  p.w0.push_back(Events(0, {NoPrev(E4), E5}));
  ExpectOnly(p, "resumable");
}

TEST(WatchChecker, ResumableSkips) {
  Parts p;
  p.w0.back() = Events(0, {E5});  // re-created at 4, continues at 5
  ExpectOnly(p, "resumable");
}

TEST(WatchChecker, Bookmarkable) {
  Parts p;
  // The progress notification at 3 overtakes revision 3's events.
  p.w0 = {Created(0, 0, 1, false, true), Events(0, {E2}), Progress(0, 3),
          Events(0, {E3a, NoPrev(E3b)}), Events(0, {NoPrev(E4), E5})};
  ExpectOnly(p, "bookmarkable");
}

TEST(WatchChecker, PrevKvWrong) {
  Parts p;
  p.w1[1] = Events(1, {E2, E3a, Prev(E3b, 999, 2)});
  ExpectOnly(p, "prev_kv");
}

TEST(WatchChecker, PrevKvUnasked) {
  Parts p;
  p.w0.back() = Events(0, {E4, E5});  // w0 did not ask for prev_kv
  ExpectOnly(p, "prev_kv");
}

TEST(WatchChecker, IsCreate) {
  Parts p;
  WatchEvent bad = E5;
  bad.create_revision = 3;  // k1 was deleted at 4: 5 re-creates it
  p.w1.back() = Events(1, {bad});
  ExpectOnly(p, "is_create");
}

TEST(WatchChecker, Agree) {
  Parts p;
  WatchEvent bad = E2;
  bad.value = 999;
  p.w1[1] = Events(1, {bad, E3a, E3b});
  ExpectOnly(p, "agree");
}

TEST(WatchChecker, AcknowledgedWriteLost) {
  Parts p;
  p.writes.push_back(Write("put", {{P, 2, 104}}, 5));  // ok at 5: not there
  ExpectOnly(p, "acknowledged");
  EXPECT_EQ(CheckWatch(p.History()).acknowledged_lost, 1);
}

TEST(WatchChecker, AcknowledgedAtWrongRevision) {
  Parts p;
  p.writes[0] = Write("put", {{P, 0, 100}}, 3);  // committed at 2
  ExpectOnly(p, "acknowledged");
  EXPECT_EQ(CheckWatch(p.History()).acknowledged_lost, 0);
}

TEST(WatchChecker, CommittedValueNeverWritten) {
  Parts p;
  p.writes[3].events = {{P, 1, 555}};  // the info put wrote something else
  ExpectOnly(p, "acknowledged");
}

TEST(WatchChecker, NoCommittedHistoryIsUnknown) {
  Parts p;
  p.committed.pop_back();
  WatchReport r = CheckWatch(p.History());
  EXPECT_EQ(r.verdict, Verdict::kUnknown) << r.Describe();
}

// Without a committed history, two watchers that saw different events at
// one revision (two members with diverged logs) are still caught.
TEST(WatchChecker, NoCommittedHistoryWatchersDisagree) {
  Parts p;
  p.committed.clear();
  WatchEvent other = E5;
  other.value = 777;
  p.w1.back() = Events(1, {other});
  ExpectOnly(p, "agree");
}

// ... and so are two writes acknowledged at the same revision.
TEST(WatchChecker, NoCommittedHistoryTwoWritesAtOneRevision) {
  Parts p;
  p.committed.clear();
  p.writes.push_back(Write("put", {{P, 2, 104}}, 3));
  ExpectOnly(p, "acknowledged");
}

}  // namespace
}  // namespace raftkv::jepsen
