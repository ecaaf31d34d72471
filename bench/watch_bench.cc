// Watch hub fan-out benchmark (issue 5, bar point 7): put -> event latency
// with 1, 100 and 1,000 watchers of one key, each on its own stream, on a
// real LevelDB store (sync off, as in production). Each iteration applies
// one put as its own batch (as the apply thread does), notifies the hub and
// waits until every watcher's stream has handed out the event. Reports
// latency percentiles (from Apply to a watcher's Pop) and events delivered
// per second.
//
//   ./watch_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "kv/mvcc_store.h"
#include "kv/watch/watch_hub.h"

namespace raftkv::kv {
namespace {

// Streams whose wake-up fired, for the reader to drain.
class Ready {
 public:
  void Push(size_t i) {
    absl::MutexLock l(&mu_);
    ready_.push_back(i);
  }
  std::vector<size_t> Take() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](std::vector<size_t>* v) { return !v->empty(); }, &ready_));
    return std::move(ready_);
  }

 private:
  absl::Mutex mu_;
  std::vector<size_t> ready_ ABSL_GUARDED_BY(mu_);
};

void BM_PutToEventLatency(benchmark::State& state) {
  const size_t watchers = state.range(0);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("watch_bench_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::shared_ptr<MvccStore> store(*MvccStore::Open(dir.string(), {}));
  {
    watch::WatchHub hub([store] { return store; }, {});
    Ready ready;
    std::vector<std::shared_ptr<watch::WatchStream>> streams;
    for (size_t i = 0; i < watchers; ++i) {
      streams.push_back(hub.OpenStream([&ready, i] { ready.Push(i); }));
      watch::WatchSpec spec;
      spec.key = "bench/key";
      streams.back()->Create(spec);
    }
    // Drain the created responses.
    for (size_t got = 0; got < watchers;) {
      for (size_t i : ready.Take()) {
        watch::WatchMessage m;
        while (streams[i]->Pop(&m)) ++got;
      }
    }
    std::vector<double> latencies_us;
    uint64_t index = 1;
    etcdserverpb::PutRequest put;
    put.set_key("bench/key");
    put.set_value(std::string(100, 'v'));
    const absl::Time start_all = absl::Now();
    uint64_t delivered = 0;
    for (auto _ : state) {
      ApplyCommand cmd{index++, &put};
      const absl::Time start = absl::Now();
      auto result = store->Apply({&cmd, 1});
      if (!result.ok()) state.SkipWithError("apply failed");
      hub.Notify(store->revision());
      for (size_t got = 0; got < watchers;) {
        for (size_t i : ready.Take()) {
          watch::WatchMessage m;
          while (streams[i]->Pop(&m)) {
            latencies_us.push_back(
                absl::ToDoubleMicroseconds(absl::Now() - start));
            delivered += m.indices.size();
            ++got;
          }
        }
      }
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start_all);
    std::sort(latencies_us.begin(), latencies_us.end());
    auto pct = [&](double p) {
      return latencies_us.empty()
                 ? 0.0
                 : latencies_us[std::min(
                       latencies_us.size() - 1,
                       static_cast<size_t>(p * latencies_us.size()))];
    };
    state.counters["p50_us"] = pct(0.50);
    state.counters["p99_us"] = pct(0.99);
    state.counters["events_per_s"] = delivered / seconds;
    for (auto& s : streams) s->Close();
  }
  store.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_PutToEventLatency)->Arg(1)->Arg(100)->Arg(1000)->UseRealTime();

}  // namespace
}  // namespace raftkv::kv
