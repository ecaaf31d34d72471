// The load engine; see load.h.
#include "cmd/raftkv-bench/load.h"

#include <atomic>
#include <cstdio>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace raftkv::bench {

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::vector<Target>& endpoints, int conns) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < conns; ++i) {
    grpc::ChannelArguments args;
    // Without this, channels with equal arguments share one TCP connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("raftkv-bench.conn", i);
    args.SetMaxReceiveMessageSize(-1);
    const Target& target = endpoints[i % endpoints.size()];
    channels.push_back(
        grpc::CreateCustomChannel(target.address, target.credentials, args));
  }
  return channels;
}

namespace {

// Runs one load; see RunLoad.
//
// Thread safety: a client's state is touched only by the thread that runs
// its current step (the caller of Run for the first request, then gRPC's
// callback threads or the pacer), and steps of one client never overlap
// because a client has at most one request in flight. Shared state is
// atomic or guarded by mu_.
class Engine {
 public:
  Engine(const LoadOptions& options, Workload& workload)
      : options_(options), workload_(workload), kinds_(workload.kinds()) {}

  LoadResult Run(const std::string& name);

 private:
  struct Client {
    int id = 0;
    etcdserverpb::KV::Stub* kv = nullptr;
    // Latencies of successful requests, one vector per operation kind.
    std::vector<std::vector<absl::Duration>> samples;
    std::vector<int64_t> errors;
    absl::Time started;  // of the request in flight
  };

  // Claims the client's next request and starts it, parks it with the pacer
  // until it is due, or retires the client when the run is over.
  void Next(Client* c);
  void Issue(Client* c, int64_t seq, absl::Time due);
  void OnDone(Client* c, const grpc::Status& status, int kind);
  void Retire();
  void PacerLoop();
  void ProgressLoop(const std::string& name);

  const LoadOptions& options_;
  Workload& workload_;
  const std::vector<std::string> kinds_;
  absl::Time start_;
  absl::Time deadline_;  // InfiniteFuture with --total
  std::atomic<int64_t> next_seq_{0};
  std::atomic<int64_t> completed_{0};
  std::atomic<int64_t> failed_{0};

  absl::Mutex mu_;
  absl::CondVar pacer_cv_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  // Clients waiting for their request's due time (open loop only).
  std::multimap<absl::Time, std::pair<Client*, int64_t>> parked_
      ABSL_GUARDED_BY(mu_);
};

void Engine::Next(Client* c) {
  const int64_t seq = next_seq_.fetch_add(1);
  const absl::Time now = absl::Now();
  if ((options_.total > 0 && seq >= options_.total) || now >= deadline_) {
    Retire();
    return;
  }
  if (options_.rate <= 0) {
    Issue(c, seq, now);
    return;
  }
  const absl::Time due =
      start_ + absl::Seconds(static_cast<double>(seq) / options_.rate);
  if (due <= now) {
    Issue(c, seq, due);
    return;
  }
  if (due >= deadline_) {
    Retire();
    return;
  }
  absl::MutexLock lock(&mu_);
  parked_.emplace(due, std::make_pair(c, seq));
  pacer_cv_.Signal();
}

void Engine::Issue(Client* c, int64_t seq, absl::Time due) {
  c->started = due;
  workload_.Start(c->id, seq, c->kv,
                  [this, c](const grpc::Status& status, int kind) {
                    OnDone(c, status, kind);
                  });
}

void Engine::OnDone(Client* c, const grpc::Status& status, int kind) {
  if (status.ok()) {
    c->samples[kind].push_back(absl::Now() - c->started);
    completed_.fetch_add(1, std::memory_order_relaxed);
  } else {
    ++c->errors[kind];
    failed_.fetch_add(1, std::memory_order_relaxed);
    absl::MutexLock lock(&mu_);
    if (first_error_.empty()) {
      first_error_ =
          std::to_string(status.error_code()) + " " + status.error_message();
    }
  }
  Next(c);
}

void Engine::Retire() {
  absl::MutexLock lock(&mu_);
  --active_;
}

void Engine::PacerLoop() {
  absl::MutexLock lock(&mu_);
  while (!finished_) {
    if (parked_.empty()) {
      pacer_cv_.Wait(&mu_);
      continue;
    }
    const absl::Time due = parked_.begin()->first;
    if (due > absl::Now()) {
      pacer_cv_.WaitWithDeadline(&mu_, due);
      continue;
    }
    auto [c, seq] = parked_.begin()->second;
    parked_.erase(parked_.begin());
    // Issue may finish at once and re-enter Next, which takes mu_.
    mu_.Unlock();
    Issue(c, seq, due);
    mu_.Lock();
  }
}

void Engine::ProgressLoop(const std::string& name) {
  int64_t last = 0;
  int second = 0;
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&finished_), absl::Seconds(1))) {
    const int64_t done = completed_.load();
    std::fprintf(stderr, "%s: %3ds  %10lld ok  %6lld errors  %9lld req/s\n",
                 name.c_str(), ++second, static_cast<long long>(done),
                 static_cast<long long>(failed_.load()),
                 static_cast<long long>(done - last));
    last = done;
  }
}

LoadResult Engine::Run(const std::string& name) {
  auto channels = MakeChannels(options_.endpoints, options_.conns);
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> stubs;
  for (auto& ch : channels) stubs.push_back(etcdserverpb::KV::NewStub(ch));
  // Connect first, so that the clock does not charge connection setup.
  for (auto& ch : channels) {
    ch->WaitForConnected(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
  }
  std::vector<Client> clients(options_.clients);
  for (int i = 0; i < options_.clients; ++i) {
    clients[i].id = i;
    clients[i].kv = stubs[i % stubs.size()].get();
    clients[i].samples.resize(kinds_.size());
    clients[i].errors.resize(kinds_.size());
  }
  start_ = absl::Now();
  deadline_ =
      options_.total > 0 ? absl::InfiniteFuture() : start_ + options_.duration;
  {
    absl::MutexLock lock(&mu_);
    active_ = options_.clients;
  }
  std::thread pacer([this] { PacerLoop(); });
  std::thread progress;
  if (options_.progress) progress = std::thread([&] { ProgressLoop(name); });
  for (Client& c : clients) Next(&c);
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* active) { return *active == 0; }, &active_));
    finished_ = true;
    pacer_cv_.Signal();
  }
  const absl::Duration elapsed = absl::Now() - start_;
  pacer.join();
  if (progress.joinable()) progress.join();

  LoadResult result;
  std::vector<absl::Duration> all;
  int64_t all_errors = 0;
  for (size_t k = 0; k < kinds_.size(); ++k) {
    std::vector<absl::Duration> samples;
    int64_t errors = 0;
    for (Client& c : clients) {
      samples.insert(samples.end(), c.samples[k].begin(), c.samples[k].end());
      errors += c.errors[k];
    }
    all.insert(all.end(), samples.begin(), samples.end());
    all_errors += errors;
    if (kinds_.size() > 1) {
      result.by_kind.push_back(
          Summarize(kinds_[k], std::move(samples), errors, elapsed));
    }
  }
  result.total = Summarize(name, std::move(all), all_errors, elapsed);
  absl::MutexLock lock(&mu_);
  result.first_error = first_error_;
  return result;
}

}  // namespace

LoadResult RunLoad(const LoadOptions& options, Workload& workload,
                   const std::string& name) {
  Engine engine(options, workload);
  return engine.Run(name);
}

}  // namespace raftkv::bench
