// MvccStore micro-benchmarks on a real LevelDB in a temporary directory
// (sync off, as in production where the Raft WAL is the durability source).
// Each store size is built once, then shared by the benchmarks of that size.
//
//   ./mvcc_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kv/mvcc_store.h"

namespace raftkv::kv {
namespace {

std::string Key(int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "k/%07lld", static_cast<long long>(i));
  return buf;
}

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<MvccStore> store;
  int64_t keys = 0;
  ~Fixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

// The store with `n` keys "k/%07d" (value: 100 bytes), built on first use.
MvccStore& StoreWith(int64_t n) {
  // Destroyed at exit, which removes the directories.
  static std::map<int64_t, std::unique_ptr<Fixture>> fixtures;
  auto& f = fixtures[n];
  if (f != nullptr) return *f->store;
  f = std::make_unique<Fixture>();
  f->keys = n;
  f->dir = std::filesystem::temp_directory_path() /
           ("mvcc_bench_" + std::to_string(getpid()) + "_" + std::to_string(n));
  auto opened = MvccStore::Open(f->dir.string(), MvccOptions());
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    std::abort();
  }
  f->store = *std::move(opened);
  std::vector<etcdserverpb::PutRequest> puts(10000);
  for (int64_t base = 0; base < n; base += puts.size()) {
    std::vector<ApplyCommand> cmds;
    for (size_t j = 0; j < puts.size() && base + int64_t(j) < n; ++j) {
      puts[j].set_key(Key(base + j));
      puts[j].set_value(std::string(100, 'v'));
      cmds.push_back({f->store->applied_index() + 1 + j, &puts[j]});
    }
    if (!f->store->Apply(cmds).ok()) std::abort();
  }
  return *f->store;
}

// One Put per Apply (one LevelDB write each): the unbatched worst case.
void BM_Put(benchmark::State& state) {
  MvccStore& store = StoreWith(state.range(0));
  std::mt19937_64 rng(1);
  etcdserverpb::PutRequest put;
  put.set_value(std::string(100, 'w'));
  for (auto _ : state) {
    put.set_key(Key(rng() % state.range(0)));
    ApplyCommand cmd{store.applied_index() + 1, &put};
    auto r = store.Apply({&cmd, 1});
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

// 100 Puts per Apply: how the apply loop sees a busy Raft batch.
void BM_PutBatch100(benchmark::State& state) {
  MvccStore& store = StoreWith(state.range(0));
  std::mt19937_64 rng(2);
  std::vector<etcdserverpb::PutRequest> puts(100);
  for (auto& p : puts) p.set_value(std::string(100, 'w'));
  for (auto _ : state) {
    std::vector<ApplyCommand> cmds;
    for (size_t j = 0; j < puts.size(); ++j) {
      puts[j].set_key(Key(rng() % state.range(0)));
      cmds.push_back({store.applied_index() + 1 + j, &puts[j]});
    }
    // Keys may repeat within a batch; that is fine for Apply.
    auto r = store.Apply(cmds);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * 100);
}

void BM_RangeSingleKey(benchmark::State& state) {
  MvccStore& store = StoreWith(state.range(0));
  std::mt19937_64 rng(3);
  etcdserverpb::RangeRequest req;
  for (auto _ : state) {
    req.set_key(Key(rng() % state.range(0)));
    auto r = store.Range(req);
    if (!r.ok() || r->kvs_size() != 1) state.SkipWithError("bad range");
  }
  state.SetItemsProcessed(state.iterations());
}

// A prefix covering 100 keys, limit 100.
void BM_RangePrefixLimit100(benchmark::State& state) {
  MvccStore& store = StoreWith(state.range(0));
  std::mt19937_64 rng(4);
  etcdserverpb::RangeRequest req;
  req.set_limit(100);
  for (auto _ : state) {
    std::string prefix = Key((rng() % state.range(0)) / 100 * 100);
    prefix.resize(prefix.size() - 2);
    std::string end = prefix;
    end.back() = static_cast<char>(end.back() + 1);
    req.set_key(prefix);
    req.set_range_end(end);
    auto r = store.Range(req);
    if (!r.ok() || r->kvs_size() != 100) state.SkipWithError("bad range");
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Put)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PutBatch100)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RangeSingleKey)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RangePrefixLimit100)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace raftkv::kv
