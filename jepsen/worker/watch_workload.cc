// The watch workload's clients (checker/watch.h has the history layout).
//
// Writers (bound to one member each, as the other workloads) put, delete and
// run multi-key txns on keys "jw/0".."jw/7" with unique values. Watchers
// watch the prefix "jw/" on one member at a time; after any stream end (an
// error, a stall of 3 s, a cancel, or a deliberate restart every 2-6 s) they
// re-create the watch on the next member from their last known revision + 1.
// Watchers differ: prev_kv or not, progress requests every 200 ms or not,
// first start "now" or revision 1 (a catch-up from the store).
//
// Thread safety: each watcher owns its stream; its ticker thread only writes
// progress requests and cancels the call (a mutex guards the flags they
// share; writes happen outside it); gRPC allows one reader and one writer at
// a time, and the reader joins the ticker before Finish().
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "jepsen/checker/watch.h"
#include "jepsen/worker/workloads.h"
#include "rpc/client/client.h"
#include "rpc/client/keys.h"
#include "rpc/client/status.h"

namespace raftkv::jepsen {
namespace {

using client::Client;
constexpr int kKeys = 8;
constexpr int64_t kPut = 1, kDelete = 2;

std::string Key(int64_t k) { return absl::StrCat("jw/", k); }

int64_t KeyNumber(const std::string& key) {
  int64_t k = -1;
  if (key.rfind("jw/", 0) != 0 || !absl::SimpleAtoi(key.substr(3), &k))
    return -1;
  return k;
}
int64_t Number(const std::string& s) {
  int64_t v = -1;
  return absl::SimpleAtoi(s, &v) ? v : -1;
}

absl::StatusOr<std::unique_ptr<Client>> Connect(
    const WorkerConfig& c, std::vector<std::string> endpoints) {
  client::Options o;
  o.dial_timeout = absl::ZeroDuration();
  o.call_timeout = c.op_timeout;
  return Client::Connect(std::move(endpoints), o);
}

std::vector<int64_t> ToList(const mvccpb::Event& ev) {
  WatchEvent e;
  e.revision = ev.kv().mod_revision();
  e.type = ev.type() == mvccpb::Event::PUT ? kPut : kDelete;
  e.key = KeyNumber(ev.kv().key());
  e.value = ev.type() == mvccpb::Event::PUT ? Number(ev.kv().value()) : 0;
  e.create_revision = ev.kv().create_revision();
  e.version = ev.kv().version();
  e.has_prev = ev.has_prev_kv();
  if (e.has_prev) {
    e.prev_value = Number(ev.prev_kv().value());
    e.prev_mod_revision = ev.prev_kv().mod_revision();
  }
  return e.ToList();
}

Op NewOp(int64_t process, std::string f, std::string key, int64_t now) {
  Op op;
  op.process = process;
  op.f = std::move(f);
  op.key = std::move(key);
  op.start = op.end = now;
  return op;
}

// One writer operation: put, delete or a txn of 2-3 keys.
void WriteOp(const WorkerConfig& c, Recorder& rec, Client& cl,
             const std::string& node, int64_t& process, std::mt19937_64& rng,
             int64_t& next_value) {
  auto rand = [&](int64_t n) { return static_cast<int64_t>(rng() % n); };
  const int64_t kind = rand(10);
  Op op = NewOp(process,
                kind < 5   ? "put"
                : kind < 7 ? "delete"
                           : "txn",
                "jw", rec.Now());
  absl::Status st;
  auto done = [&](int64_t revision) {
    op.end = rec.Now();
    if (st.ok()) {
      op.has_value = true;
      op.value = {revision};
    }
    op.type = st.ok() ? OpType::kOk : OpType::kInfo;
    rec.Record(op, node, st.ok() ? "" : std::string(st.message()));
    if (!st.ok()) process += c.threads;
  };
  if (kind < 5) {
    const int64_t k = rand(kKeys), v = next_value++;
    op.events = {{kPut, k, v}};
    auto r = cl.Put(Key(k), absl::StrCat(v));
    st = r.status();
    return done(r.ok() ? r->header().revision() : 0);
  }
  if (kind < 7) {
    const int64_t k = rand(kKeys);
    etcdserverpb::DeleteRangeRequest req;
    req.set_key(Key(k));
    auto r = cl.DeleteRange(req);
    st = r.status();
    op.events = {{kDelete, k, r.ok() ? r->deleted() : -1}};
    return done(r.ok() ? r->header().revision() : 0);
  }
  // Distinct keys: the first one or two are put, the last maybe deleted.
  std::vector<int64_t> keys;
  const int64_t n = 2 + rand(2);
  while (static_cast<int64_t>(keys.size()) < n) {
    const int64_t k = rand(kKeys);
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  const bool last_delete = rand(2) == 0;
  etcdserverpb::TxnRequest txn;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (last_delete && i + 1 == keys.size()) {
      txn.add_success()->mutable_request_delete_range()->set_key(Key(keys[i]));
      op.events.push_back({kDelete, keys[i], -1});
    } else {
      const int64_t v = next_value++;
      auto* put = txn.add_success()->mutable_request_put();
      put->set_key(Key(keys[i]));
      put->set_value(absl::StrCat(v));
      op.events.push_back({kPut, keys[i], v});
    }
  }
  auto r = cl.Txn(txn);
  st = r.status();
  if (r.ok() && last_delete && r->responses_size() == n) {
    op.events.back()[2] = r->responses(n - 1).response_delete_range().deleted();
  }
  done(r.ok() ? r->header().revision() : 0);
}

using WatchStream = grpc::ClientReaderWriter<etcdserverpb::WatchRequest,
                                             etcdserverpb::WatchResponse>;

struct WatcherSpec {
  int index;
  bool prev_kv, progress;
  int64_t first_start;  // 0 = now
};

// Runs one watcher until `end`.
void Watcher(const WorkerConfig& c, Recorder& rec, Client& cl,
             const WatcherSpec& spec, absl::Time end) {
  std::mt19937_64 rng(c.seed * 104729 + spec.index);
  const int n = static_cast<int>(c.endpoints.size());
  int ep = spec.index % n;
  int64_t next = spec.first_start;
  const std::string name = absl::StrCat("w", spec.index);
  while (absl::Now() < end) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("hasleader", "true");
    std::unique_ptr<WatchStream> stream = cl.watch(ep).Watch(&ctx);
    etcdserverpb::WatchRequest req;
    auto* create = req.mutable_create_request();
    client::KeyRange range = client::PrefixRange("jw/");
    create->set_key(range.key);
    create->set_range_end(range.range_end);
    create->set_start_revision(next);
    create->set_prev_kv(spec.prev_kv);
    const int64_t requested = next;
    absl::Mutex mu;
    bool done = false, created = false;
    absl::Time last_response = absl::Now();
    const absl::Time restart_at =
        absl::Now() + absl::Milliseconds(2000 + rng() % 4000);
    bool deliberate = false;
    {
      absl::MutexLock l(&mu);
      stream->Write(req);
    }
    std::thread ticker([&] {
      mu.Lock();
      while (!done) {
        mu.AwaitWithTimeout(absl::Condition(&done), absl::Milliseconds(200));
        if (done) break;
        const absl::Time now = absl::Now();
        if (now > end || now > restart_at ||
            now - last_response > absl::Seconds(3)) {
          deliberate = now > restart_at || now > end;
          ctx.TryCancel();
          break;
        }
        if (spec.progress && created) {
          // Written without mu: a write blocked by flow control must not
          // block the reader, which cancels the call (ending the write)
          // before it joins this thread.
          mu.Unlock();
          etcdserverpb::WatchRequest p;
          p.mutable_progress_request();
          stream->Write(p);
          mu.Lock();
        }
      }
      mu.Unlock();
    });
    etcdserverpb::WatchResponse r;
    const std::string node = c.endpoints[ep];
    bool canceled = false;
    while (!canceled && stream->Read(&r)) {
      const int64_t now = rec.Now();
      {
        absl::MutexLock l(&mu);
        last_response = absl::Now();
      }
      const int64_t hdr = r.header().revision();
      Op op = NewOp(spec.index, "", name, now);
      op.has_value = true;
      if (r.created()) {
        op.f = "watch-created";
        op.is_list = true;
        op.value = {requested, hdr, spec.prev_kv ? 1 : 0,
                    spec.progress ? 1 : 0};
        if (!r.canceled()) {
          if (next == 0) next = hdr + 1;
          absl::MutexLock l(&mu);
          created = true;
        }
      }
      if (r.canceled()) {
        canceled = true;
        if (r.created()) rec.Record(op, node, "");
        op = NewOp(spec.index, "watch-canceled", name, now);
        op.has_value = true;
        op.value = {r.compact_revision()};
        rec.Record(op, node, r.cancel_reason());
        break;
      }
      if (r.created()) {
        rec.Record(op, node, "");
      } else if (r.events_size() > 0) {
        op.f = "watch-events";
        op.value = {hdr};
        for (const auto& ev : r.events()) op.events.push_back(ToList(ev));
        next = r.events(r.events_size() - 1).kv().mod_revision() + 1;
        rec.Record(op, node, "");
      } else {
        op.f = "watch-progress";
        op.value = {hdr};
        next = std::max(next, hdr + 1);
        rec.Record(op, node, "");
      }
    }
    {
      absl::MutexLock l(&mu);
      done = true;
    }
    ctx.TryCancel();
    ticker.join();
    const grpc::Status gs = stream->Finish();
    Op op = NewOp(spec.index, "watch-error", name, rec.Now());
    op.type = OpType::kFail;
    rec.Record(op, node,
               deliberate ? "restart"
               : gs.ok()  ? "stream ended"
                          : gs.error_message());
    ep = (ep + 1) % n;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

}  // namespace

absl::Status RunWatchWorkload(const WorkerConfig& c, Recorder& rec) {
  auto watch_client = Connect(c, c.endpoints);
  if (!watch_client.ok()) return watch_client.status();
  const absl::Time end = absl::Now() + c.duration;
  const int watchers = std::min(c.watchers, c.threads - 1);
  std::vector<std::thread> threads;
  std::vector<absl::Status> errors(c.threads);
  for (int w = 0; w < watchers; ++w) {
    // w0 plain from now, w1 prev_kv, w2 prev_kv + progress from revision 1,
    // w3 progress, then again.
    WatcherSpec spec{w, w % 4 == 1 || w % 4 == 2, w % 4 >= 2,
                     w % 4 == 2 ? 1 : 0};
    threads.emplace_back(
        [&, spec] { Watcher(c, rec, **watch_client, spec, end); });
  }
  for (int t = watchers; t < c.threads; ++t) {
    threads.emplace_back([&, t] {
      const std::string node = c.endpoints[t % c.endpoints.size()];
      auto cl = Connect(c, {node});
      if (!cl.ok()) {
        errors[t] = cl.status();
        return;
      }
      std::mt19937_64 rng(c.seed * 7919 + t);
      int64_t process = t, next_value = static_cast<int64_t>(t) * 1'000'000;
      while (absl::Now() < end) {
        WriteOp(c, rec, **cl, node, process, rng, next_value);
        absl::SleepFor(c.pause);
      }
    });
  }
  // A watcher stuck in a call that never returns (e.g. a write blocked by
  // a server that stopped reading) must not hang the run.
  absl::Notification finished;
  std::thread watchdog([&] {
    if (!finished.WaitForNotificationWithTimeout(c.duration +
                                                 absl::Seconds(30))) {
      std::cerr << "jepsen-worker: watch clients stuck 30 s after the end\n";
      std::_Exit(1);
    }
  });
  for (auto& th : threads) th.join();
  finished.Notify();
  watchdog.join();
  for (const absl::Status& e : errors) {
    if (!e.ok()) return e;
  }
  return absl::OkStatus();
}

absl::Status FinalWatchRead(const WorkerConfig& c, Recorder& rec,
                            absl::Duration patience) {
  const absl::Time deadline = absl::Now() + patience;
  auto cl = Connect(c, c.endpoints);
  if (!cl.ok()) return cl.status();
  absl::Status last = absl::DeadlineExceededError("no attempt");
  for (int attempt = 0; absl::Now() < deadline; ++attempt) {
    // The sentinel's revision ends the read: every event before it has been
    // received once its own event arrives (events are in revision order).
    auto put = (*cl)->Put(Key(kWatchSentinelKey), "0",
                          client::CallOptions{.timeout = absl::Seconds(5)});
    if (!put.ok()) {
      last = put.status();
      absl::SleepFor(absl::Milliseconds(500));
      continue;
    }
    const int64_t final_rev = put->header().revision();
    const int ep = attempt % static_cast<int>(c.endpoints.size());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(20));
    auto stream = (*cl)->watch(ep).Watch(&ctx);
    etcdserverpb::WatchRequest req;
    auto* create = req.mutable_create_request();
    client::KeyRange range = client::PrefixRange("jw/");
    create->set_key(range.key);
    create->set_range_end(range.range_end);
    create->set_start_revision(1);
    create->set_prev_kv(true);
    stream->Write(req);
    std::vector<Op> responses;
    etcdserverpb::WatchResponse r;
    bool complete = false;
    while (!complete && stream->Read(&r)) {
      if (r.canceled()) break;
      if (r.events_size() == 0) continue;
      Op op = NewOp(1'000'000 + attempt, "committed", "final", rec.Now());
      op.has_value = true;
      op.value = {r.header().revision()};
      for (const auto& ev : r.events()) {
        op.events.push_back(ToList(ev));
        complete = complete || ev.kv().mod_revision() >= final_rev;
      }
      responses.push_back(std::move(op));
    }
    ctx.TryCancel();
    const grpc::Status gs = stream->Finish();
    if (!complete) {
      last = gs.ok() ? absl::UnavailableError("watch ended early")
                     : client::FromGrpcStatus(gs);
      continue;
    }
    for (const Op& op : responses) rec.Record(op, c.endpoints[ep], "");
    Op end = NewOp(1'000'000 + attempt, "committed-end", "final", rec.Now());
    end.has_value = true;
    end.value = {final_rev};
    rec.Record(end, c.endpoints[ep], "");
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("final watch read failed: ", last.message()));
}

}  // namespace raftkv::jepsen
