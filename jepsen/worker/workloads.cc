#include "jepsen/worker/workloads.h"

#include <atomic>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rpc/client/client.h"
#include "rpc/client/keys.h"

namespace raftkv::jepsen {
namespace {

using client::CallOptions;
using client::Client;

// One logical client: a thread, its member, its process id.
struct Session {
  const WorkerConfig* config;
  Recorder* recorder;
  std::unique_ptr<Client> client;
  std::string node;
  int64_t process;
  std::mt19937_64 rng;

  Op Begin(std::string f, std::string key) {
    Op op;
    op.process = process;
    op.f = std::move(f);
    op.key = std::move(key);
    op.start = recorder->Now();
    return op;
  }
  void End(Op& op, OpType type, const absl::Status& error = absl::OkStatus()) {
    op.end = recorder->Now();
    op.type = type;
    recorder->Record(op, node, error.ok() ? "" : std::string(error.message()));
    if (type == OpType::kInfo) process += config->threads;
  }
  int64_t Rand(int64_t n) { return static_cast<int64_t>(rng() % n); }
};

void SetScalar(Op& op, int64_t v) {
  op.has_value = true;
  op.value = {v};
}
void SetList(Op& op, std::vector<int64_t> v) {
  op.has_value = op.is_list = true;
  op.value = std::move(v);
}
int64_t ToInt(const std::string& s) {
  int64_t v = -1;
  return absl::SimpleAtoi(s, &v) ? v : -1;
}

void RegisterOp(Session& s, std::atomic<int64_t>& counter) {
  const std::string key =
      absl::StrCat("jr/", counter.fetch_add(1) / s.config->ops_per_key);
  const int64_t kind = s.Rand(4);
  if (kind < 2) {
    Op op = s.Begin("read", key);
    auto r = s.client->Get(key);
    if (!r.ok()) return s.End(op, OpType::kFail, r.status());
    if (r->kvs_size() > 0) SetScalar(op, ToInt(r->kvs(0).value()));
    return s.End(op, OpType::kOk);
  }
  const int64_t v = s.Rand(5);
  if (kind == 2) {
    Op op = s.Begin("write", key);
    SetScalar(op, v);
    auto r = s.client->Put(key, absl::StrCat(v));
    return s.End(op, r.ok() ? OpType::kOk : OpType::kInfo, r.status());
  }
  const int64_t old = s.Rand(5);
  Op op = s.Begin("cas", key);
  SetList(op, {old, v});
  etcdserverpb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key(key);
  cmp->set_target(etcdserverpb::Compare::VALUE);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_value(absl::StrCat(old));
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(absl::StrCat(v));
  auto r = s.client->Txn(txn);
  if (!r.ok()) return s.End(op, OpType::kInfo, r.status());
  s.End(op, r->succeeded() ? OpType::kOk : OpType::kFail);
}

void SetAdd(Session& s, int thread, int64_t& seq) {
  const int64_t v = static_cast<int64_t>(thread) * 1'000'000 + seq++;
  Op op = s.Begin("add", "set");
  SetScalar(op, v);
  auto r = s.client->Put(absl::StrCat("js/", v), "1");
  s.End(op, r.ok() ? OpType::kOk : OpType::kInfo, r.status());
}

std::string Account(int i) { return absl::StrCat("jb/", i); }

absl::StatusOr<etcdserverpb::RangeResponse> ReadAccounts(Session& s,
                                                         bool serializable) {
  client::KeyRange range = client::PrefixRange("jb/");
  etcdserverpb::RangeRequest req;
  req.set_key(range.key);
  req.set_range_end(range.range_end);
  req.set_serializable(serializable);
  return s.client->Range(req);
}

// Balances in account order; a missing account reads as -1 (the checker
// flags it), so the list always has config.accounts entries.
std::vector<int64_t> Balances(const WorkerConfig& c,
                              const etcdserverpb::RangeResponse& r,
                              std::vector<int64_t>* mod_revisions = nullptr) {
  std::vector<int64_t> b(c.accounts, -1), mods(c.accounts, 0);
  for (const auto& kv : r.kvs()) {
    int64_t i = ToInt(kv.key().substr(3));
    if (i < 0 || i >= c.accounts) continue;
    b[i] = ToInt(kv.value());
    mods[i] = kv.mod_revision();
  }
  if (mod_revisions) *mod_revisions = mods;
  return b;
}

void BankOp(Session& s) {
  const WorkerConfig& c = *s.config;
  if (s.Rand(2) == 0) {
    const bool serializable = s.Rand(2) == 0;
    Op op = s.Begin("read", serializable ? "serializable" : "linearizable");
    auto r = ReadAccounts(s, serializable);
    if (!r.ok()) return s.End(op, OpType::kFail, r.status());
    SetList(op, Balances(c, *r));
    return s.End(op, OpType::kOk);
  }
  const int from = static_cast<int>(s.Rand(c.accounts));
  const int to =
      (from + 1 + static_cast<int>(s.Rand(c.accounts - 1))) % c.accounts;
  const int64_t amount = 1 + s.Rand(5);
  Op op = s.Begin("transfer", "bank");
  SetList(op, {from, to, amount});
  auto r = ReadAccounts(s, false);
  if (!r.ok()) return s.End(op, OpType::kFail, r.status());
  std::vector<int64_t> mods;
  std::vector<int64_t> b = Balances(c, *r, &mods);
  if (b[from] < amount || b[to] < 0) return s.End(op, OpType::kFail);
  etcdserverpb::TxnRequest txn;
  for (int i : {from, to}) {
    auto* cmp = txn.add_compare();
    cmp->set_key(Account(i));
    cmp->set_target(etcdserverpb::Compare::MOD);
    cmp->set_result(etcdserverpb::Compare::EQUAL);
    cmp->set_mod_revision(mods[i]);
  }
  for (auto [i, v] :
       {std::pair{from, b[from] - amount}, std::pair{to, b[to] + amount}}) {
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(Account(i));
    put->set_value(absl::StrCat(v));
  }
  auto t = s.client->Txn(txn);
  if (!t.ok()) return s.End(op, OpType::kInfo, t.status());
  s.End(op, t->succeeded() ? OpType::kOk : OpType::kFail);
}

// Creates the accounts once (a Txn guarded on jb/0 not existing).
absl::Status SetUpBank(Session& s, absl::Time deadline) {
  const WorkerConfig& c = *s.config;
  etcdserverpb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key(Account(0));
  cmp->set_target(etcdserverpb::Compare::CREATE);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_create_revision(0);
  for (int i = 0; i < c.accounts; ++i) {
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(Account(i));
    put->set_value(absl::StrCat(c.total / c.accounts +
                                (i == 0 ? c.total % c.accounts : 0)));
  }
  absl::Status last;
  while (absl::Now() < deadline) {
    auto r = s.client->Txn(txn);
    if (r.ok()) return absl::OkStatus();
    last = r.status();
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("bank setup failed: ", last.message()));
}

absl::StatusOr<Session> NewSession(const WorkerConfig& c, Recorder& recorder,
                                   int thread, bool failover) {
  client::Options o;
  o.dial_timeout = absl::ZeroDuration();
  o.call_timeout = c.op_timeout;
  std::vector<std::string> endpoints = {
      c.endpoints[thread % c.endpoints.size()]};
  if (failover) endpoints = c.endpoints;
  auto client = Client::Connect(endpoints, o);
  if (!client.ok()) return client.status();
  return Session{
      &c,           &recorder, *std::move(client),
      endpoints[0], thread,    std::mt19937_64(c.seed * 7919 + thread)};
}

}  // namespace

absl::Status RunWorkload(const WorkerConfig& c, Recorder& recorder) {
  if (c.workload == "watch") return RunWatchWorkload(c, recorder);
  if (c.workload == "lease") return RunLeaseWorkload(c, recorder);
  if (c.workload != "register" && c.workload != "set" && c.workload != "bank") {
    return absl::InvalidArgumentError(
        "workload: register, set, bank, watch or lease");
  }
  if (c.workload == "bank") {
    auto s = NewSession(c, recorder, 0, true);
    if (!s.ok()) return s.status();
    if (absl::Status st = SetUpBank(*s, absl::Now() + absl::Seconds(30));
        !st.ok()) {
      return st;
    }
  }
  const absl::Time end = absl::Now() + c.duration;
  std::atomic<int64_t> counter{0};
  std::vector<std::thread> threads;
  std::vector<absl::Status> errors(c.threads);
  for (int t = 0; t < c.threads; ++t) {
    threads.emplace_back([&, t] {
      auto s = NewSession(c, recorder, t, false);
      if (!s.ok()) {
        errors[t] = s.status();
        return;
      }
      int64_t seq = 0;
      while (absl::Now() < end) {
        if (c.workload == "register") RegisterOp(*s, counter);
        if (c.workload == "set") SetAdd(*s, t, seq);
        if (c.workload == "bank") BankOp(*s);
        absl::SleepFor(c.pause);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const absl::Status& e : errors) {
    if (!e.ok()) return e;
  }
  return absl::OkStatus();
}

absl::Status FinalSetRead(const WorkerConfig& c, Recorder& recorder,
                          absl::Duration patience) {
  const absl::Time deadline = absl::Now() + patience;
  absl::Status last;
  for (int attempt = 0; absl::Now() < deadline; ++attempt) {
    auto s = NewSession(c, recorder, attempt, false);
    if (!s.ok()) return s.status();
    s->process = 1'000'000 + attempt;
    Op op = s->Begin("read", "set");
    client::KeyRange range = client::PrefixRange("js/");
    etcdserverpb::RangeRequest req;
    req.set_key(range.key);
    req.set_range_end(range.range_end);
    auto r = s->client->Range(req, CallOptions{.timeout = absl::Seconds(5)});
    if (r.ok()) {
      std::vector<int64_t> elems;
      for (const auto& kv : r->kvs())
        elems.push_back(ToInt(kv.key().substr(3)));
      SetList(op, std::move(elems));
      s->End(op, OpType::kOk);
      return absl::OkStatus();
    }
    last = r.status();
    s->End(op, OpType::kFail, last);
    absl::SleepFor(absl::Milliseconds(500));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("final read failed: ", last.message()));
}

}  // namespace raftkv::jepsen
