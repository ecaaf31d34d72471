// WAL micro-benchmarks on the real disk (a temp dir under /tmp, or
// $RAFTKV_BENCH_DIR): DurableLog::Save with one fdatasync per batch of 1, 10
// or 100 entries (64 B and 1 KiB payloads), and the raw rate of "write 4 KiB
// + fdatasync" on the same disk, so that the WAL's overhead over the disk's
// sync rate can be read off. Results are in docs/wal.md.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "raft/wal/durable_log.h"

namespace raftkv::raft::wal {
namespace {

std::string FreshDir(const std::string& name) {
  const char* base = std::getenv("RAFTKV_BENCH_DIR");
  std::filesystem::path dir =
      std::filesystem::path(base != nullptr ? base : "/tmp") /
      ("raftkv_wal_bench_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Args: entries per Save (one fdatasync each), payload bytes.
void BM_WalAppendSync(benchmark::State& state) {
  const auto batch = static_cast<uint64_t>(state.range(0));
  const auto payload = static_cast<size_t>(state.range(1));
  const std::string dir = FreshDir("append");
  auto log = DurableLog::Open(Env::Posix(), dir, Options{});
  if (!log.ok()) {
    state.SkipWithError(std::string(log.status().message()).c_str());
    return;
  }
  std::vector<Entry> entries(batch);
  for (Entry& e : entries) {
    e.set_term(1);
    e.set_data(std::string(payload, 'x'));
  }
  uint64_t next = 1, bytes = 0;
  for (auto _ : state) {
    for (Entry& e : entries) e.set_index(next++);
    absl::Status s = (*log)->Save(nullptr, entries, /*sync=*/true);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
    bytes += batch * payload;
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(next - 1), benchmark::Counter::kIsRate);
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(bytes),
                                                 benchmark::Counter::kIsRate,
                                                 benchmark::Counter::kIs1024);
  state.counters["syncs/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  log->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_WalAppendSync)
    ->ArgsProduct({{1, 10, 100}, {64, 1024}})
    ->ArgNames({"batch", "payload"})
    ->UseRealTime()
    ->MinTime(2.0);

// The disk's own rate: pwrite 4 KiB into a preallocated file + fdatasync.
void BM_RawFdatasync(benchmark::State& state) {
  const std::string dir = FreshDir("raw");
  const std::string path = dir + "/raw";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  constexpr off_t kFileBytes = 64 << 20;
  if (fd < 0 || ::fallocate(fd, 0, 0, kFileBytes) != 0) {
    state.SkipWithError("open/fallocate failed");
    return;
  }
  const std::string block(4096, 'x');
  off_t offset = 0;
  for (auto _ : state) {
    if (::pwrite(fd, block.data(), block.size(), offset) !=
            static_cast<ssize_t>(block.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("pwrite/fdatasync failed");
      break;
    }
    offset = (offset + 4096) % kFileBytes;
  }
  state.counters["syncs/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  ::close(fd);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RawFdatasync)->UseRealTime()->MinTime(2.0);

}  // namespace
}  // namespace raftkv::raft::wal
