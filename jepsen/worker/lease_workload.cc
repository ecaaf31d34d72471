// The lease workload's clients (checker/lease.h has the history layout).
//
// Each thread is a lease owner cycling through: grant a lease (TTL
// --lease_ttl_s), put "jl/<thread>/<cycle>" bound to it, keep it alive every
// TTL/4 for a while (even threads 8-16 s, odd threads 1-4 s), then stop
// without revoking and keep reading the key until it is gone (or until the
// expiry deadline the checker will apply has long passed). Reads run every
// 250 ms throughout. A thread talks to one member at a time and moves to the
// next after any error, so a dead member does not stop its keep-alives.
#include <grpcpp/grpcpp.h>

#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "jepsen/worker/workloads.h"
#include "rpc/client/client.h"
#include "rpc/client/keys.h"
#include "rpc/client/status.h"

namespace raftkv::jepsen {
namespace {

using client::Client;

class Owner {
 public:
  Owner(const WorkerConfig& c, Recorder& rec, Client& cl, int thread)
      : c_(c),
        rec_(rec),
        cl_(cl),
        thread_(thread),
        ep_(thread % static_cast<int>(c.endpoints.size())),
        rng_(c.seed * 31337 + thread) {}

  void Run(absl::Time end) {
    for (int cycle = 0; absl::Now() < end; ++cycle) {
      Cycle(absl::StrCat("jl/", thread_, "/", cycle), end);
    }
  }

 private:
  Op Begin(std::string f, const std::string& key) {
    Op op;
    op.process = thread_;
    op.f = std::move(f);
    op.key = key;
    op.start = rec_.Now();
    return op;
  }
  void End(Op& op, OpType type, const absl::Status& st) {
    op.end = rec_.Now();
    op.type = type;
    rec_.Record(op, c_.endpoints[ep_],
                st.ok() ? "" : std::string(st.message()));
    if (!st.ok()) ep_ = (ep_ + 1) % static_cast<int>(c_.endpoints.size());
  }
  void Deadline(grpc::ClientContext& ctx) {
    cl_.PrepareContext(ctx, c_.op_timeout);
  }

  // Grant; returns the lease id, or 0.
  int64_t Grant(const std::string& key) {
    Op op = Begin("grant", key);
    grpc::ClientContext ctx;
    Deadline(ctx);
    etcdserverpb::LeaseGrantRequest req;
    req.set_ttl(c_.lease_ttl_s);
    etcdserverpb::LeaseGrantResponse resp;
    absl::Status st =
        client::FromGrpcStatus(cl_.lease(ep_).LeaseGrant(&ctx, req, &resp));
    if (st.ok() && !resp.error().empty()) {
      st = absl::UnknownError(resp.error());
    }
    op.has_value = op.is_list = true;
    op.value = {st.ok() ? resp.ttl() : c_.lease_ttl_s, st.ok() ? resp.id() : 0};
    End(op, st.ok() ? OpType::kOk : OpType::kInfo, st);
    return st.ok() ? resp.id() : 0;
  }

  bool Put(const std::string& key, int64_t lease) {
    Op op = Begin("put", key);
    op.has_value = op.is_list = true;
    op.value = {lease};
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value("1");
    req.set_lease(lease);
    auto r = cl_.Put(req, client::CallOptions{.endpoint = ep_});
    // "lease not found" is a definite failure; other errors may have
    // applied.
    const bool definite = r.status().code() == absl::StatusCode::kNotFound;
    End(op,
        r.ok()     ? OpType::kOk
        : definite ? OpType::kFail
                   : OpType::kInfo,
        r.status());
    return r.ok();
  }

  // One keep-alive round trip.
  void KeepAlive(const std::string& key, int64_t lease) {
    Op op = Begin("keepalive", key);
    op.has_value = op.is_list = true;
    op.value = {lease};
    grpc::ClientContext ctx;
    Deadline(ctx);
    auto stream = cl_.lease(ep_).LeaseKeepAlive(&ctx);
    etcdserverpb::LeaseKeepAliveRequest req;
    req.set_id(lease);
    etcdserverpb::LeaseKeepAliveResponse resp;
    absl::Status st;
    if (stream->Write(req) && stream->Read(&resp)) {
      op.value.push_back(resp.ttl());
      stream->WritesDone();
      ctx.TryCancel();
      stream->Finish().IgnoreError();
    } else {
      stream->WritesDone();
      grpc::Status gs = stream->Finish();
      st = gs.ok() ? absl::UnavailableError("keep-alive stream ended")
                   : client::FromGrpcStatus(gs);
    }
    End(op, st.ok() ? OpType::kOk : OpType::kInfo, st);
  }

  // Returns 1 present, 0 absent, -1 error.
  int Read(const std::string& key) {
    Op op = Begin("read", key);
    auto r = cl_.Get(key, client::CallOptions{.endpoint = ep_});
    if (!r.ok()) {
      End(op, OpType::kFail, r.status());
      return -1;
    }
    op.has_value = op.is_list = true;
    op.value = {r->kvs_size() > 0 ? 1 : 0};
    End(op, OpType::kOk, absl::OkStatus());
    return static_cast<int>(op.value[0]);
  }

  void Cycle(const std::string& key, absl::Time end) {
    const int64_t lease = Grant(key);
    if (lease == 0 || !Put(key, lease)) {
      absl::SleepFor(absl::Milliseconds(200));
      return;
    }
    const absl::Duration ttl = absl::Seconds(c_.lease_ttl_s);
    const int64_t keep_ms =
        thread_ % 2 == 0 ? 8000 + rng_() % 8000 : 1000 + rng_() % 3000;
    const absl::Time stop = absl::Now() + absl::Milliseconds(keep_ms);
    absl::Time next_ka = absl::Now() + ttl / 4;
    while (absl::Now() < std::min(stop, end)) {
      if (absl::Now() >= next_ka) {
        next_ka = absl::Now() + ttl / 4;
        KeepAlive(key, lease);
      }
      Read(key);
      absl::SleepFor(absl::Milliseconds(250));
    }
    // Stopped: read until the key is gone or well past any deadline.
    const absl::Time give_up = absl::Now() + ttl + absl::Seconds(12);
    while (absl::Now() < std::min(give_up, end)) {
      if (Read(key) == 0) return;
      absl::SleepFor(absl::Milliseconds(250));
    }
  }

  const WorkerConfig& c_;
  Recorder& rec_;
  Client& cl_;
  const int thread_;
  int ep_;
  std::mt19937_64 rng_;
};

}  // namespace

absl::Status RunLeaseWorkload(const WorkerConfig& c, Recorder& rec) {
  client::Options o;
  o.dial_timeout = absl::ZeroDuration();
  o.call_timeout = c.op_timeout;
  auto cl = Client::Connect(c.endpoints, o);
  if (!cl.ok()) return cl.status();
  const absl::Time end = absl::Now() + c.duration;
  std::vector<std::thread> threads;
  for (int t = 0; t < c.threads; ++t) {
    threads.emplace_back([&, t] { Owner(c, rec, **cl, t).Run(end); });
  }
  for (auto& th : threads) th.join();
  return absl::OkStatus();
}

absl::Status FinalLeaseRead(const WorkerConfig& c, Recorder& rec,
                            absl::Duration patience) {
  client::Options o;
  o.dial_timeout = absl::ZeroDuration();
  auto cl = Client::Connect(c.endpoints, o);
  if (!cl.ok()) return cl.status();
  const absl::Time deadline = absl::Now() + patience;
  absl::Status last = absl::DeadlineExceededError("no attempt");
  for (int attempt = 0; absl::Now() < deadline; ++attempt) {
    Op op;
    op.process = 1'000'000 + attempt;
    op.f = "final-read";
    op.key = "jl";
    op.start = rec.Now();
    client::KeyRange range = client::PrefixRange("jl/");
    etcdserverpb::RangeRequest req;
    req.set_key(range.key);
    req.set_range_end(range.range_end);
    req.set_keys_only(true);
    auto r =
        (*cl)->Range(req, client::CallOptions{.timeout = absl::Seconds(5)});
    op.end = rec.Now();
    if (!r.ok()) {
      last = r.status();
      op.type = OpType::kFail;
      rec.Record(op, "", std::string(last.message()));
      absl::SleepFor(absl::Milliseconds(500));
      continue;
    }
    for (const auto& kv : r->kvs()) {
      std::vector<std::string> parts = absl::StrSplit(kv.key(), '/');
      int64_t t = -1, cycle = -1;
      if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &t) ||
          !absl::SimpleAtoi(parts[2], &cycle)) {
        t = cycle = -1;
      }
      op.events.push_back({t, cycle});
    }
    op.type = OpType::kOk;
    rec.Record(op, "", "");
    if (r->kvs_size() == 0) return absl::OkStatus();
    absl::SleepFor(absl::Seconds(1));
  }
  return absl::OkStatus();  // keys still present are the checker's business
}

}  // namespace raftkv::jepsen
