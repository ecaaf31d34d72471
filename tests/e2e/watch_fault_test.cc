// Issue 5, test points 3 and 5, with real raftkv processes (docs/watch.md
// "Tests"):
//
//  - KillLeaderAndWatchedMemberUnderLoad: a 3-member cluster; writer threads
//    (put, delete, delete of a prefix, multi-key txn) on keys under
//    overlapping prefixes, and watchers (each on a channel of its own,
//    connected to one member; overlapping ranges; some with prev_kv) run
//    while the leader is killed with SIGKILL and restarted, and then,
//    separately, a follower that watchers are connected to. A watcher whose
//    stream breaks reconnects (same member first, then the others) and
//    re-creates its watch from last seen revision + 1. Afterwards the
//    committed history (a watch from revision 1 on a healthy member, itself
//    checked against a replayed model, the final Range and every
//    acknowledged write) is compared with what each watcher received:
//    ordered, unique, atomic, reliable, resumable, prev_kv, is_create.
//  - CompactionWhileWatcherPaused: a watcher that stops reading while many
//    writes happen, then a compaction beyond its position: when it reads
//    again it gets every event in order up to some revision, then
//    canceled=true with compact_revision — never a silent gap.
//  - WatchBelowCompactRevisionIsCancelled: a watch created below the compact
//    revision is cancelled with compact_revision; one at it is not.
//  - HasLeaderTest: once a member has lost its leader, a new stream with
//    hasleader=true metadata is refused with "etcdserver: no leader", and
//    an open one ends with that error; against raftkv and etcd alike.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rpc/client/keys.h"
#include "tests/e2e/process_cluster.h"
#include "tests/e2e/watch_util.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

// ---------------------------------------------------------------------------
// Writers

// The keys the writers touch: three prefixes, one ("wf/a") a prefix of
// another ("wf/a/" and "wf/ab/" both start with it).
std::vector<std::string> Keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < 6; ++i) keys.push_back(absl::StrCat("wf/a/", i));
  for (int i = 0; i < 4; ++i) keys.push_back(absl::StrCat("wf/ab/", i));
  for (int i = 0; i < 6; ++i) keys.push_back(absl::StrCat("wf/b/", i));
  return keys;
}

// An event an acknowledged write must have produced.
struct Expected {
  mvccpb::Event::EventType type;
  std::string key;
  std::string value;  // PUT only
};

// An acknowledged write that changed something: its events, all at
// `revision` (the response header's).
struct Acked {
  int64_t revision = 0;
  std::vector<Expected> events;
  std::string what;
};

class Writers {
 public:
  Writers(std::vector<std::string> endpoints, int writers)
      : endpoints_(std::move(endpoints)) {
    for (int w = 0; w < writers; ++w) {
      threads_.emplace_back([this, w] { Run(w); });
    }
  }
  ~Writers() { Stop(); }

  void Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  int64_t acked_count() const { return acked_count_.load(); }
  std::vector<Acked> acked() const {
    absl::MutexLock l(&mu_);
    return acked_;
  }
  std::map<std::string, int> failures() const {
    absl::MutexLock l(&mu_);
    return failures_;
  }

 private:
  void Run(int w) {
    client::Options options;
    options.dial_timeout = absl::ZeroDuration();
    options.call_timeout = absl::Seconds(3);
    auto c = client::Client::Connect(endpoints_, options);
    if (!c.ok()) return;
    std::mt19937_64 rng(absl::ToUnixNanos(absl::Now()) + w);
    const std::vector<std::string> keys = Keys();
    for (int64_t seq = 0; !stop_; ++seq) {
      const std::string value = absl::StrCat("w", w, "-", seq);
      const std::string& key = keys[rng() % keys.size()];
      Acked a;
      absl::Status status;
      switch (rng() % 8) {
        case 0:
        case 1: {  // delete one key, or the prefix wf/b/
          etcdserverpb::DeleteRangeRequest d;
          const bool prefix = rng() % 2 == 0;
          const client::KeyRange range = client::PrefixRange("wf/b/");
          d.set_key(prefix ? range.key : key);
          if (prefix) d.set_range_end(range.range_end);
          d.set_prev_kv(true);
          a.what = absl::StrCat("delete ", d.key(), " ", d.range_end());
          auto r = (*c)->DeleteRange(d);
          status = r.status();
          if (r.ok()) {
            a.revision = r->header().revision();
            for (const auto& kv : r->prev_kvs()) {
              a.events.push_back({mvccpb::Event::DELETE, kv.key(), ""});
            }
          }
          break;
        }
        case 2:
        case 3: {  // a multi-key txn: puts and deletes of distinct keys
          etcdserverpb::TxnRequest t;
          std::set<std::string> chosen;
          while (chosen.size() < 3) chosen.insert(keys[rng() % keys.size()]);
          std::vector<std::string> ops;
          for (const std::string& k : chosen) {
            auto* op = t.add_success();
            if (rng() % 3 == 0) {
              op->mutable_request_delete_range()->set_key(k);
              op->mutable_request_delete_range()->set_prev_kv(true);
              ops.push_back("del " + k);
            } else {
              op->mutable_request_put()->set_key(k);
              op->mutable_request_put()->set_value(value);
              ops.push_back("put " + k);
            }
          }
          a.what = "txn " + absl::StrJoin(ops, ", ");
          auto r = (*c)->Txn(t);
          status = r.status();
          if (r.ok()) {
            a.revision = r->header().revision();
            for (int i = 0; i < t.success_size(); ++i) {
              const auto& op = t.success(i);
              if (op.has_request_put()) {
                a.events.push_back(
                    {mvccpb::Event::PUT, op.request_put().key(), value});
              } else {
                for (const auto& kv :
                     r->responses(i).response_delete_range().prev_kvs()) {
                  a.events.push_back({mvccpb::Event::DELETE, kv.key(), ""});
                }
              }
            }
          }
          break;
        }
        default: {
          a.what = "put " + key;
          auto r = (*c)->Put(key, value);
          status = r.status();
          if (r.ok()) {
            a.revision = r->header().revision();
            a.events.push_back({mvccpb::Event::PUT, key, value});
          }
        }
      }
      if (!status.ok()) {
        absl::MutexLock l(&mu_);
        ++failures_[absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                                 status.message())];
        absl::SleepFor(absl::Milliseconds(20));  // do not hammer a dead member
        continue;
      }
      ++acked_count_;
      if (a.events.empty()) continue;  // changed nothing: no revision
      absl::MutexLock l(&mu_);
      acked_.push_back(std::move(a));
    }
  }

  const std::vector<std::string> endpoints_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> acked_count_{0};
  std::vector<std::thread> threads_;
  mutable absl::Mutex mu_;
  std::vector<Acked> acked_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> failures_ ABSL_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------
// Watchers

struct Range {
  std::string name;
  std::string key;
  std::string range_end;
  bool prev_kv = false;
  int home = 0;  // the member it connects to first
};

// One watch call of a logical watcher: from creation to the stream's end.
struct Incarnation {
  int member = 0;
  int64_t start = 0;  // the start_revision sent (0: now)
  int64_t created_revision = -1;
  // Each WatchResponse's events, in arrival order.
  std::vector<std::vector<mvccpb::Event>> responses;
  std::string violation;  // a cancel, or a second created response
  std::string end;        // how the call ended
};

// A watcher that survives member failures: one thread, reconnecting and
// resuming from last seen revision + 1.
class ResumingWatcher {
 public:
  ResumingWatcher(Range range, std::vector<std::string> endpoints)
      : range_(std::move(range)), endpoints_(std::move(endpoints)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ResumingWatcher() { Stop(); }

  const Range& range() const { return range_; }
  // The revision after the last event received (0 before the first watch
  // is created; then the first revision to deliver).
  int64_t next() const { return next_.load(); }
  int member() const { return member_.load(); }
  int incarnations() const {
    absl::MutexLock l(&mu_);
    return static_cast<int>(incarnations_.size()) + (watch_ ? 1 : 0);
  }
  void Stop() {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
      if (watch_) watch_->Cancel();
    }
    if (thread_.joinable()) thread_.join();
  }
  // REQUIRES: Stop() returned.
  const std::vector<Incarnation>& history() const { return incarnations_; }
  int64_t first() const { return first_; }

 private:
  void Run() {
    int member = range_.home;
    while (true) {
      auto channel = WatchChannel(endpoints_[member]);
      if (!channel->WaitForConnected(
              absl::ToChronoTime(absl::Now() + absl::Seconds(1)))) {
        member = (member + 1) % endpoints_.size();
        absl::MutexLock l(&mu_);
        if (stop_) return;
        continue;
      }
      Incarnation inc;
      inc.member = member;
      inc.start = next_.load();
      SyncWatch* watch;
      {
        absl::MutexLock l(&mu_);
        if (stop_) return;
        watch_ = std::make_unique<SyncWatch>(channel);
        watch = watch_.get();
      }
      member_ = member;
      bool ended = true;  // by the server or the network, not by us
      if (watch->Create(CreateRequest(range_.key, range_.range_end, inc.start,
                                      range_.prev_kv))) {
        ended = Receive(watch, &inc);
      }
      grpc::Status s = watch->Finish(/*cancel=*/!ended);
      inc.end = absl::StrCat(s.error_code(), " ", s.error_message());
      absl::MutexLock l(&mu_);
      incarnations_.push_back(std::move(inc));
      watch_.reset();
      if (stop_) return;
      // Broken: the same member first (it may be back), then the others.
    }
  }

  // Returns true when the call ended, false after an unexpected cancel.
  bool Receive(SyncWatch* watch, Incarnation* inc) {
    etcdserverpb::WatchResponse r;
    while (watch->Read(&r)) {
      if (r.created()) {
        if (inc->created_revision >= 0) inc->violation = "created twice";
        inc->created_revision = r.header().revision();
        if (inc->start == 0) {
          first_ = r.header().revision() + 1;
          next_ = first_;
        }
        continue;
      }
      if (r.canceled()) {
        inc->violation =
            absl::StrCat("cancelled: compact_revision=", r.compact_revision(),
                         " reason=", r.cancel_reason());
        return false;
      }
      if (r.events_size() == 0) continue;  // progress notification
      inc->responses.emplace_back(r.events().begin(), r.events().end());
      next_ = r.events(r.events_size() - 1).kv().mod_revision() + 1;
    }
    return true;
  }

  const Range range_;
  const std::vector<std::string> endpoints_;
  std::atomic<int64_t> next_{0};
  std::atomic<int> member_{-1};
  int64_t first_ = 0;  // written by the watcher thread only
  std::thread thread_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // The current call; Read/Write by the watcher thread, Cancel by Stop().
  std::unique_ptr<SyncWatch> watch_ ABSL_GUARDED_BY(mu_);
  std::vector<Incarnation> incarnations_;  // watcher thread until joined
};

// Checks one watcher against the committed history; returns the
// violations, each prefixed with the name of the guarantee it breaks.
std::vector<std::string> CheckWatcher(
    const ResumingWatcher& w, const std::vector<mvccpb::Event>& history) {
  std::vector<std::string> v;
  const Range& range = w.range();
  std::vector<mvccpb::Event> got;
  std::map<int64_t, int> response_of;  // revision -> response number
  int response = 0;
  int64_t resume = w.first();
  for (const Incarnation& inc : w.history()) {
    if (!inc.violation.empty()) {
      v.push_back(
          absl::StrCat("unexpected: ", inc.violation, " on m", inc.member + 1));
    }
    if (inc.start != 0 && inc.start != resume) {
      v.push_back(absl::StrCat("resumable: re-created at ", inc.start,
                               " instead of ", resume));
    }
    for (const auto& events : inc.responses) {
      ++response;
      for (const mvccpb::Event& e : events) {
        const int64_t rev = e.kv().mod_revision();
        auto [it, fresh] = response_of.emplace(rev, response);
        if (!fresh && it->second != response) {
          v.push_back(absl::StrCat("atomic: revision ", rev,
                                   " split across responses"));
        }
        if (rev < inc.start) {
          v.push_back(absl::StrCat("resumable: event at ", rev,
                                   " before the resume revision ", inc.start));
        }
        got.push_back(e);
      }
      resume = events.back().kv().mod_revision() + 1;
    }
  }
  if (got.empty()) {
    v.push_back("reliable: no events at all");
    return v;
  }
  std::set<std::pair<int64_t, std::string>> seen;
  int64_t last = 0;
  for (const mvccpb::Event& e : got) {
    const int64_t rev = e.kv().mod_revision();
    if (rev < last) {
      v.push_back(absl::StrCat("ordered: revision ", rev, " after ", last));
    }
    last = std::max(last, rev);
    if (!seen.emplace(rev, e.kv().key()).second) {
      v.push_back(absl::StrCat("unique: ", e.kv().key(), "@", rev, " twice"));
    }
    if (!range.prev_kv && e.has_prev_kv()) {
      v.push_back(absl::StrCat("prev_kv: ", e.kv().key(), "@", rev,
                               " has prev_kv, not asked for"));
    }
    if (!InRange(range.key, range.range_end, e.kv().key())) {
      v.push_back(absl::StrCat("filter: ", e.kv().key(), " not watched"));
    }
  }
  // Reliable: exactly the history of the range from the first revision to
  // the last one received; prev_kv and is_create as in the (checked)
  // history.
  std::map<std::pair<int64_t, std::string>, const mvccpb::Event*> want;
  for (const mvccpb::Event& e : history) {
    const int64_t rev = e.kv().mod_revision();
    if (rev < w.first() || rev > last) continue;
    if (InRange(range.key, range.range_end, e.kv().key())) {
      want[{rev, e.kv().key()}] = &e;
    }
  }
  for (const auto& [k, e] : want) {
    if (!seen.count(k)) {
      v.push_back(absl::StrCat("reliable: missing ", k.second, "@", k.first));
    }
  }
  for (const mvccpb::Event& e : got) {
    auto it = want.find({e.kv().mod_revision(), e.kv().key()});
    if (it == want.end()) {
      v.push_back(absl::StrCat("reliable: ", e.kv().key(), "@",
                               e.kv().mod_revision(), " is not in history"));
      continue;
    }
    mvccpb::Event expected = *it->second;
    if (!range.prev_kv) expected.clear_prev_kv();
    if (expected.kv().SerializeAsString() != e.kv().SerializeAsString() ||
        expected.type() != e.type()) {
      v.push_back(absl::StrCat("is_create/kv: ", e.kv().key(), "@",
                               e.kv().mod_revision(), " differs: got ",
                               e.ShortDebugString(), " want ",
                               expected.ShortDebugString()));
    } else if (expected.prev_kv().SerializeAsString() !=
               e.prev_kv().SerializeAsString()) {
      v.push_back(absl::StrCat("prev_kv: ", e.kv().key(), "@",
                               e.kv().mod_revision(), " differs"));
    }
  }
  // Ordered within a revision too: the history's order.
  std::vector<std::pair<int64_t, std::string>> order, want_order;
  for (const mvccpb::Event& e : got) {
    order.emplace_back(e.kv().mod_revision(), e.kv().key());
  }
  for (const mvccpb::Event& e : history) {
    std::pair<int64_t, std::string> k{e.kv().mod_revision(), e.kv().key()};
    if (want.count(k)) want_order.push_back(k);
  }
  if (v.empty() && order != want_order) {
    v.push_back("ordered: events of a revision in another order");
  }
  if (v.size() > 20) v.resize(20);
  return v;
}

void ExpectAckedInHistory(const std::vector<Acked>& acked,
                          const std::vector<mvccpb::Event>& history) {
  std::map<std::pair<int64_t, std::string>, const mvccpb::Event*> at;
  for (const mvccpb::Event& e : history) {
    at[{e.kv().mod_revision(), e.kv().key()}] = &e;
  }
  std::set<int64_t> revisions;
  int bad = 0;
  for (const Acked& a : acked) {
    if (!revisions.insert(a.revision).second && ++bad <= 5) {
      ADD_FAILURE() << "two acknowledged writes at revision " << a.revision;
    }
    for (const Expected& x : a.events) {
      auto it = at.find({a.revision, x.key});
      const bool ok =
          it != at.end() && it->second->type() == x.type &&
          (x.type != mvccpb::Event::PUT || it->second->kv().value() == x.value);
      if (!ok && ++bad <= 5) {
        ADD_FAILURE() << "acknowledged " << a.what << " at revision "
                      << a.revision << ": event on " << x.key
                      << " missing or different in the history";
      }
    }
  }
  EXPECT_EQ(bad, 0) << "of " << acked.size() << " acknowledged writes";
}

// Waits until the members in `among` agree on a leader; returns it.
int AgreedLeader(ProcessCluster& cluster, std::vector<int> among = {}) {
  auto leader = cluster.WaitForLeader(absl::Seconds(30), std::move(among));
  EXPECT_TRUE(leader.ok()) << leader.status();
  return leader.ok() ? *leader : -1;
}

TEST(WatchFaultTest, KillLeaderAndWatchedMemberUnderLoad) {
  ProcessCluster cluster(ClusterOptions{});
  ASSERT_TRUE(cluster.Start(absl::Seconds(60)).ok()) << cluster.Logs();
  const std::vector<std::string> endpoints = cluster.client_endpoints();
  const std::string kAll(1, '\0');

  // Overlapping ranges, two or three per member, half with prev_kv.
  const std::vector<Range> ranges = {
      {"prefix wf/a/ prev_kv", "wf/a/", "wf/a0", true, 0},
      {"prefix wf/a", "wf/a", "wf/b", false, 1},
      {"prefix wf/ prev_kv", "wf/", "wf0", true, 2},
      {"prefix wf/b/", "wf/b/", "wf/b0", false, 0},
      {"range [wf/a/4, wf/b/4) prev_kv", "wf/a/4", "wf/b/4", true, 1},
      {"key wf/a/3 prev_kv", "wf/a/3", "", true, 2},
      {"prefix wf/ab/", "wf/ab/", "wf/ab0", false, 2},
      {"from wf/b/2 on prev_kv", "wf/b/2", kAll, true, 0},
  };
  std::vector<std::unique_ptr<ResumingWatcher>> watchers;
  for (const Range& r : ranges) {
    watchers.push_back(std::make_unique<ResumingWatcher>(r, endpoints));
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        for (auto& w : watchers) {
          if (w->next() == 0) return false;
        }
        return true;
      },
      absl::Seconds(20)))
      << "watchers not created";

  const absl::Time load_start = absl::Now();
  Writers writers(endpoints, /*writers=*/3);
  auto acked_more = [&](int64_t n) {
    const int64_t target = writers.acked_count() + n;
    EXPECT_TRUE(WaitFor([&] { return writers.acked_count() >= target; },
                        absl::Seconds(30)))
        << "writes stalled at " << writers.acked_count();
  };
  // Waits until `at` into the load (and some more writes).
  auto load_until = [&](absl::Duration at) {
    acked_more(100);
    WaitFor([&] { return absl::Now() - load_start >= at; }, at,
            absl::Milliseconds(50));
  };
  load_until(absl::Seconds(3));

  // Fault 1: kill -9 the leader; writes resume; restart it.
  const int leader = AgreedLeader(cluster);
  ASSERT_GE(leader, 0);
  std::printf("fault 1: kill -9 leader %s at +%s\n",
              cluster.name(leader).c_str(),
              absl::FormatDuration(absl::Now() - load_start).c_str());
  cluster.Kill(leader);
  std::vector<int> survivors;
  for (int i = 0; i < cluster.size(); ++i) {
    if (i != leader) survivors.push_back(i);
  }
  ASSERT_GE(AgreedLeader(cluster, survivors), 0);
  acked_more(200);
  ASSERT_TRUE(cluster.StartMember(leader).ok());
  const int leader2 = AgreedLeader(cluster);
  ASSERT_GE(leader2, 0);
  load_until(absl::Seconds(8));

  // Fault 2: kill -9 a follower that watchers are connected to, so that
  // their streams break while the cluster keeps its leader.
  int victim = -1;
  std::vector<int> on_victim;
  for (int i = 0; i < cluster.size() && victim < 0; ++i) {
    if (i == leader2) continue;
    for (size_t k = 0; k < watchers.size(); ++k) {
      if (watchers[k]->member() == i) on_victim.push_back(static_cast<int>(k));
    }
    if (!on_victim.empty()) victim = i;
  }
  ASSERT_GE(victim, 0) << "no watcher on a follower";
  std::vector<int> before;
  for (int k : on_victim) before.push_back(watchers[k]->incarnations());
  std::printf("fault 2: kill -9 follower %s (watchers %s on it) at +%s\n",
              cluster.name(victim).c_str(),
              absl::StrJoin(on_victim, ",").c_str(),
              absl::FormatDuration(absl::Now() - load_start).c_str());
  cluster.Kill(victim);
  ASSERT_TRUE(WaitFor(
      [&] {
        for (size_t j = 0; j < on_victim.size(); ++j) {
          const auto& w = watchers[on_victim[j]];
          if (w->incarnations() <= before[j] || w->member() == victim) {
            return false;
          }
        }
        return true;
      },
      absl::Seconds(20)))
      << "watchers of " << cluster.name(victim) << " did not reconnect";
  acked_more(200);
  ASSERT_TRUE(cluster.StartMember(victim).ok());
  ASSERT_GE(AgreedLeader(cluster), 0);
  load_until(absl::Seconds(16));
  writers.Stop();
  const absl::Duration load_time = absl::Now() - load_start;

  // The last write: a txn every watcher sees; its revision S ends the run.
  auto c = cluster.ClientOfAll(absl::Seconds(5));
  ASSERT_NE(c, nullptr);
  etcdserverpb::TxnRequest end;
  for (const char* k : {"wf/a/3", "wf/ab/1", "wf/b/2"}) {
    auto* put = end.add_success()->mutable_request_put();
    put->set_key(k);
    put->set_value("end");
  }
  int64_t last = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = c->Txn(end);
        if (r.ok()) last = r->header().revision();
        return r.ok();
      },
      absl::Seconds(30), absl::Milliseconds(200)));
  const bool caught_up = WaitFor(
      [&] {
        for (auto& w : watchers) {
          if (w->next() <= last) return false;
        }
        return true;
      },
      absl::Seconds(30));
  for (auto& w : watchers) w->Stop();
  EXPECT_TRUE(caught_up) << "some watcher never reached revision " << last;

  // The committed history, from a member that was never killed.
  int healthy = 0;
  while (healthy == leader || healthy == victim) ++healthy;
  auto responses =
      ReadHistory(endpoints[healthy], "wf/", "wf0", last, absl::Seconds(30));
  ASSERT_TRUE(responses.ok()) << responses.status();
  std::vector<mvccpb::Event> history;
  for (const auto& r : *responses) {
    history.insert(history.end(), r.begin(), r.end());
  }
  HistoryCheck hc = CheckHistory(history, 2, last);
  EXPECT_TRUE(hc.violations.empty()) << absl::StrJoin(hc.violations, "\n  ");
  // The history's final state is the store's.
  auto read = ReadPrefix(*c, "wf/");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->revision, last);
  EXPECT_EQ(read->kvs.size(), hc.model.size());
  for (const auto& [k, kv] : read->kvs) {
    auto it = hc.model.find(k);
    EXPECT_TRUE(it != hc.model.end() &&
                it->second.SerializeAsString() == kv.SerializeAsString())
        << "Range at " << last << " and the history differ on " << k;
  }
  const std::vector<Acked> acked = writers.acked();
  ExpectAckedInHistory(acked, history);

  int reconnects = 0;
  size_t delivered = 0;
  for (size_t k = 0; k < watchers.size(); ++k) {
    const ResumingWatcher& w = *watchers[k];
    std::vector<std::string> members;
    size_t events = 0;
    for (const Incarnation& inc : w.history()) {
      members.push_back(
          absl::StrCat(cluster.name(inc.member), "@", inc.start,
                       inc.end.empty() ? "" : " (" + inc.end + ")"));
      for (const auto& r : inc.responses) events += r.size();
    }
    reconnects += static_cast<int>(w.history().size()) - 1;
    delivered += events;
    std::printf("watcher %zu (%s): revisions %ld..%ld, %zu events, calls: %s\n",
                k, w.range().name.c_str(), static_cast<long>(w.first()),
                static_cast<long>(w.next() - 1), events,
                absl::StrJoin(members, "; ").c_str());
    const std::vector<std::string> v = CheckWatcher(w, history);
    EXPECT_TRUE(v.empty()) << "watcher " << k << " (" << w.range().name
                           << "):\n  " << absl::StrJoin(v, "\n  ");
  }
  std::printf(
      "load %s: %lld writes acked (%zu changed something), revisions 2..%ld, "
      "%zu history events, %zu events delivered to %zu watchers, %d "
      "reconnects\n",
      absl::FormatDuration(load_time).c_str(),
      static_cast<long long>(writers.acked_count()), acked.size(),
      static_cast<long>(last), history.size(), delivered, watchers.size(),
      reconnects);
  for (const auto& [kind, n] : writers.failures()) {
    std::printf("  write failure x%d: %s\n", n, kind.c_str());
  }
  // Both faults broke streams: the watchers of the victim at least.
  EXPECT_GE(reconnects, static_cast<int>(on_victim.size()));
}

// ---------------------------------------------------------------------------
// Compaction

// A put of `n` keys of `size` bytes under `prefix` in one txn (one revision
// of n events); returns its revision.
int64_t PutMany(client::Client& c, const std::string& prefix, int n,
                size_t size, int64_t seq) {
  etcdserverpb::TxnRequest t;
  for (int i = 0; i < n; ++i) {
    auto* put = t.add_success()->mutable_request_put();
    put->set_key(absl::StrCat(prefix, i));
    put->set_value(std::string(size, static_cast<char>('a' + seq % 26)));
  }
  auto r = c.Txn(t);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->header().revision() : 0;
}

absl::Status Compact(client::Client& c, int64_t revision) {
  etcdserverpb::CompactionRequest r;
  r.set_revision(revision);
  return c.Compact(r).status();
}

TEST(WatchFaultTest, CompactionWhileWatcherPaused) {
  ClusterOptions options;
  options.size = 1;
  ProcessCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok()) << cluster.Logs();
  auto c = cluster.ClientOf(0, absl::Seconds(10));
  ASSERT_NE(c, nullptr);

  // The paused watcher: its stream's receive window stays at 64 KiB, and
  // it reads nothing after the created response until the compaction.
  constexpr int kKeys = 16;        // events per revision
  constexpr size_t kSize = 1024;   // bytes per value: 16 KiB per revision
  constexpr int kRevisions = 400;  // 6.4 MiB, far beyond 64 KiB + 128
  SyncWatch paused(WatchChannel(cluster.client_endpoint(0), true), {},
                   absl::Seconds(50));
  ASSERT_TRUE(paused.Create(CreateRequest("wc/", "wc0", 0, false)));
  etcdserverpb::WatchResponse r;
  ASSERT_TRUE(paused.Read(&r));
  ASSERT_TRUE(r.created());
  const int64_t first = r.header().revision() + 1;
  const int64_t id = r.watch_id();

  int64_t last = 0;
  for (int i = 0; i < kRevisions; ++i) {
    last = PutMany(*c, "wc/k", kKeys, kSize, i);
    ASSERT_GT(last, 0);
  }
  ASSERT_EQ(last, first + kRevisions - 1);
  ASSERT_TRUE(Compact(*c, last).ok());

  // Read again: events in order, every revision whole, then the cancel.
  int64_t next = first;
  int64_t compact = 0;
  int responses = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (compact == 0 && absl::Now() < deadline) {
    ASSERT_TRUE(paused.Read(&r)) << "stream ended before the cancel";
    ASSERT_EQ(r.watch_id(), id);
    if (r.canceled()) {
      compact = r.compact_revision();
      break;
    }
    ++responses;
    std::map<int64_t, int> per_revision;
    for (const auto& e : r.events()) {
      const int64_t rev = e.kv().mod_revision();
      if (rev == next) {
        ++next;
      } else {
        ASSERT_TRUE(rev == next - 1 && per_revision.count(rev))
            << "ordered/reliable: revision " << rev << " after " << next - 1;
      }
      ++per_revision[rev];
    }
    for (const auto& [rev, n] : per_revision) {
      ASSERT_EQ(n, kKeys) << "atomic: revision " << rev << " has " << n
                          << " of " << kKeys << " events in one response";
    }
  }
  std::printf(
      "paused watcher: revisions %ld..%ld written, compacted at %ld; on "
      "resuming it read revisions %ld..%ld in %d responses, then "
      "canceled with compact_revision=%ld\n",
      static_cast<long>(first), static_cast<long>(last),
      static_cast<long>(last), static_cast<long>(first),
      static_cast<long>(next - 1), responses, static_cast<long>(compact));
  EXPECT_EQ(compact, last) << "no cancel with compact_revision";
  // It lagged behind the compaction (else the test proves nothing): the
  // first revision it was not sent is below the compact revision.
  EXPECT_LT(next, last);
  EXPECT_GT(compact, next - 1);
  EXPECT_TRUE(r.canceled());

  // Nothing follows the cancel: a new write, then a progress request,
  // whose answer comes after anything queued before it.
  ASSERT_GT(PutMany(*c, "wc/k", 1, 8, 0), last);
  ASSERT_TRUE(paused.RequestProgress());
  while (true) {
    ASSERT_TRUE(paused.Read(&r)) << "no progress response";
    EXPECT_EQ(r.events_size(), 0) << "events after the cancel";
    if (!r.canceled() && r.events_size() == 0) break;
  }
  EXPECT_EQ(r.watch_id(), -1);
}

TEST(WatchFaultTest, WatchBelowCompactRevisionIsCancelled) {
  ClusterOptions options;
  options.size = 1;
  ProcessCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok()) << cluster.Logs();
  auto c = cluster.ClientOf(0, absl::Seconds(10));
  ASSERT_NE(c, nullptr);
  int64_t rev = 0;
  for (int i = 0; i < 10; ++i) {
    auto p = c->Put(absl::StrCat("wb/", i % 3), absl::StrCat(i));
    ASSERT_TRUE(p.ok()) << p.status();
    rev = p->header().revision();
  }
  const int64_t compact = rev - 3;
  ASSERT_TRUE(Compact(*c, compact).ok());

  auto expect_cancelled = [&](int64_t start) {
    SCOPED_TRACE(absl::StrCat("start_revision ", start));
    SyncWatch w(WatchChannel(cluster.client_endpoint(0)), {},
                absl::Seconds(20));
    ASSERT_TRUE(w.Create(CreateRequest("wb/", "wb0", start, true)));
    etcdserverpb::WatchResponse r;
    ASSERT_TRUE(w.Read(&r));
    EXPECT_TRUE(r.created());
    ASSERT_TRUE(w.Read(&r));
    EXPECT_TRUE(r.canceled());
    EXPECT_EQ(r.compact_revision(), compact);
    EXPECT_EQ(r.events_size(), 0);
  };
  expect_cancelled(1);
  expect_cancelled(compact - 1);

  // At the compact revision: that revision's event and the rest, no cancel.
  SyncWatch w(WatchChannel(cluster.client_endpoint(0)), {}, absl::Seconds(20));
  ASSERT_TRUE(w.Create(CreateRequest("wb/", "wb0", compact, false)));
  etcdserverpb::WatchResponse r;
  ASSERT_TRUE(w.Read(&r));
  EXPECT_TRUE(r.created());
  std::vector<int64_t> revisions;
  while (revisions.empty() || revisions.back() < rev) {
    ASSERT_TRUE(w.Read(&r));
    ASSERT_FALSE(r.canceled()) << "compact_revision=" << r.compact_revision();
    for (const auto& e : r.events()) revisions.push_back(e.kv().mod_revision());
  }
  std::vector<int64_t> want;
  for (int64_t v = compact; v <= rev; ++v) want.push_back(v);
  EXPECT_EQ(revisions, want);
}

// ---------------------------------------------------------------------------
// hasleader

// Runs against raftkv and, when installed, against etcd itself (whose
// behaviour this is: v3rpc's stream interceptor refuses a new stream, and
// monitorLeader cancels existing ones after 3 election timeouts without a
// leader).
class HasLeaderTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HasLeaderTest, StreamsEndWithNoLeaderOnceTheLeaderIsLost) {
  ClusterOptions options;
  options.binary = GetParam() == "etcd" ? "etcd" : RAFTKV_PATH;
  if (GetParam() == "etcd" && !raftkv::testing::HaveProgram("etcd")) {
    GTEST_SKIP() << "etcd not installed";
  }
  ProcessCluster cluster(options);
  ASSERT_TRUE(cluster.Start(absl::Seconds(60)).ok()) << cluster.Logs();
  const std::vector<std::pair<std::string, std::string>> md = {
      {"hasleader", "true"}};
  // With a leader a stream serves; it stays open across the loss.
  SyncWatch existing(WatchChannel(cluster.client_endpoint(0)), md,
                     absl::Seconds(25));
  ASSERT_TRUE(existing.Create(CreateRequest("hl", "", 0, false)));
  etcdserverpb::WatchResponse r;
  ASSERT_TRUE(existing.Read(&r));
  EXPECT_TRUE(r.created());

  const absl::Time killed = absl::Now();
  cluster.Kill(1);
  cluster.Kill(2);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = cluster.Status(0);
        return s.ok() && s->leader() == 0;
      },
      absl::Seconds(30)))
      << "m1 still reports a leader";
  const absl::Duration lost = absl::Now() - killed;

  // A new stream is refused at once.
  SyncWatch w(WatchChannel(cluster.client_endpoint(0)), md, absl::Seconds(10));
  w.Create(CreateRequest("hl", "", 0, false));  // may fail: refused at once
  EXPECT_FALSE(w.Read(&r)) << r.ShortDebugString();
  grpc::Status s = w.Finish(/*cancel=*/false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "etcdserver: no leader");

  // The existing stream ends with the same error (etcd: after 3 election
  // timeouts without a leader, 1.5 s here).
  EXPECT_FALSE(existing.Read(&r)) << r.ShortDebugString();
  const absl::Duration ended = absl::Now() - killed;
  s = existing.Finish(/*cancel=*/false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "etcdserver: no leader");
  std::printf(
      "%s: leader lost %s after the kills, existing hasleader stream ended "
      "%s after them\n",
      GetParam().c_str(), absl::FormatDuration(lost).c_str(),
      absl::FormatDuration(ended).c_str());

  // Without the metadata the member still serves watches.
  SyncWatch plain(WatchChannel(cluster.client_endpoint(0)), {},
                  absl::Seconds(10));
  ASSERT_TRUE(plain.Create(CreateRequest("hl", "", 0, false)));
  ASSERT_TRUE(plain.Read(&r));
  EXPECT_TRUE(r.created());
}

INSTANTIATE_TEST_SUITE_P(Servers, HasLeaderTest,
                         ::testing::Values("raftkv", "etcd"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace raftkv::e2e
