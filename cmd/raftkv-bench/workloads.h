// The KV workloads of raftkv-bench (put, range, txn-put, mixed), modelled on
// etcd's benchmark tool. watch-latency lives in watch_latency.h.
#ifndef RAFTKV_CMD_RAFTKV_BENCH_WORKLOADS_H_
#define RAFTKV_CMD_RAFTKV_BENCH_WORKLOADS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "cmd/raftkv-bench/load.h"

namespace raftkv::bench {

struct KeyOptions {
  int key_size = 8;
  int val_size = 8;
  // Keys are numbered 0 .. key_space_size-1: request seq uses key
  // seq % key_space_size with sequential_keys, a random one otherwise.
  int64_t key_space_size = 1;
  bool sequential_keys = false;
};

// Key number `n` as text: decimal, zero-padded to key_size bytes (longer when
// key_size is too small to hold the number).
std::string KeyName(int64_t n, int key_size);

// Writes one key per request.
std::unique_ptr<Workload> NewPutWorkload(const KeyOptions& keys, int clients);

// Reads [key, range_end) per request ("" range_end: the single key);
// serializable reads are served locally by any member.
std::unique_ptr<Workload> NewRangeWorkload(std::string key,
                                           std::string range_end,
                                           bool serializable);

// A Txn of `ops` puts on distinct keys per request.
std::unique_ptr<Workload> NewTxnPutWorkload(const KeyOptions& keys, int ops,
                                            int clients);

// Each request is a Range of one key with probability read_ratio, else a
// Put; kinds "range" and "put" are reported separately too.
std::unique_ptr<Workload> NewMixedWorkload(const KeyOptions& keys,
                                           double read_ratio, bool serializable,
                                           int clients);

}  // namespace raftkv::bench

#endif  // RAFTKV_CMD_RAFTKV_BENCH_WORKLOADS_H_
