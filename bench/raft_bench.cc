// Micro-benchmarks of the pure Raft core: propose -> commit throughput with
// 1 node and with 3 nodes wired in memory (no disk, no network), for 64-byte
// and 1 KiB payloads. They measure the core's own cost per entry.
//
//   ./build/bench/raft_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "raft/check.h"
#include "raft/raft.h"

namespace raftkv::raft {
namespace {

// A cluster whose nodes persist into MemoryStorage and exchange messages
// through an in-memory queue; it follows the Ready contract of ready.h.
class MemoryCluster {
 public:
  explicit MemoryCluster(int size) {
    std::vector<uint64_t> ids;
    for (int i = 1; i <= size; ++i) ids.push_back(i);
    for (uint64_t id : ids) {
      auto& node = nodes_[id];
      node.storage = std::make_unique<MemoryStorage>();
      Config config;
      config.id = id;
      config.storage = node.storage.get();
      config.seed = id;
      config.max_inflight_msgs = 4096;
      auto raft = Raft::Create(config);
      RAFTKV_CHECK(raft.ok());
      node.raft = std::move(*raft);
      RAFTKV_CHECK(node.raft->Bootstrap(ids).ok());
    }
    nodes_[1].raft->Campaign();
    Stabilize();
    RAFTKV_CHECK(nodes_[1].raft->role() == Role::kLeader);
  }

  Raft& leader() { return *nodes_[1].raft; }
  uint64_t applied_data() const { return applied_data_; }

  // Runs Ready rounds and delivers messages until nothing is left to do.
  void Stabilize() {
    bool progress = true;
    while (progress) {
      progress = false;
      for (auto& [id, node] : nodes_) {
        while (node.raft->HasReady()) {
          HandleReady(node);
          progress = true;
        }
      }
      while (!queue_.empty()) {
        raftpb::Message m = std::move(queue_.front());
        queue_.pop_front();
        RAFTKV_CHECK(nodes_[m.to()].raft->Step(m).ok());
        progress = true;
      }
    }
  }

 private:
  struct Node {
    std::unique_ptr<MemoryStorage> storage;
    std::unique_ptr<Raft> raft;
  };

  void HandleReady(Node& node) {
    Ready rd = node.raft->GetReady();
    if (rd.snapshot.metadata().index() != 0) {
      RAFTKV_CHECK(node.storage->ApplySnapshot(rd.snapshot).ok());
    }
    node.storage->Append(rd.entries);
    if (rd.hard_state) node.storage->SetHardState(*rd.hard_state);
    for (auto& m : rd.messages) queue_.push_back(std::move(m));
    if (node.raft->id() == 1) {
      for (const auto& e : rd.committed_entries) {
        if (e.type() == raftpb::ENTRY_NORMAL && !e.data().empty()) {
          ++applied_data_;
        }
      }
    }
    node.raft->Advance(rd);
  }

  std::map<uint64_t, Node> nodes_;
  std::deque<raftpb::Message> queue_;
  uint64_t applied_data_ = 0;
};

// state.range(0): cluster size; state.range(1): payload bytes;
// state.range(2): proposals per Ready round (batching).
void BM_ProposeCommit(benchmark::State& state) {
  MemoryCluster cluster(static_cast<int>(state.range(0)));
  const std::string payload(static_cast<size_t>(state.range(1)), 'x');
  const int batch = static_cast<int>(state.range(2));
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      RAFTKV_CHECK(cluster.leader().Propose(payload).ok());
    }
    cluster.Stabilize();
  }
  RAFTKV_CHECK_EQ(cluster.applied_data(),
                  static_cast<uint64_t>(state.iterations()) * batch);
  const double entries = static_cast<double>(state.iterations()) * batch;
  state.counters["entries/s"] =
      benchmark::Counter(entries, benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(entries) * state.range(1));
}

BENCHMARK(BM_ProposeCommit)
    ->ArgNames({"nodes", "bytes", "batch"})
    ->Args({1, 64, 1})
    ->Args({1, 64, 64})
    ->Args({1, 1024, 64})
    ->Args({3, 64, 1})
    ->Args({3, 64, 64})
    ->Args({3, 1024, 64});

}  // namespace
}  // namespace raftkv::raft
