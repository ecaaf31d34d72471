// watch-latency: W watchers on one key (spread over S Watch streams and the
// connections) while one client puts to that key at --put-rate; for every
// put and every watcher, the latency from sending the Put to receiving its
// event. Each value carries the put's sequence number, so an event is
// matched to its put without relying on revisions.
#ifndef RAFTKV_CMD_RAFTKV_BENCH_WATCH_LATENCY_H_
#define RAFTKV_CMD_RAFTKV_BENCH_WATCH_LATENCY_H_

#include <string>

#include "cmd/raftkv-bench/load.h"

namespace raftkv::bench {

struct WatchLatencyOptions {
  LoadOptions puts;  // --total/--duration, --put-rate, endpoints, conns
  int watchers = 100;
  int streams = 10;
  int key_size = 8;
  int val_size = 8;
  // How long to wait for missing events after the last put.
  absl::Duration drain = absl::Seconds(10);
};

struct WatchLatencyResult {
  Summary events;  // errors = events that never arrived
  Summary puts;
  std::string first_error;
};

WatchLatencyResult RunWatchLatency(const WatchLatencyOptions& options);

}  // namespace raftkv::bench

#endif  // RAFTKV_CMD_RAFTKV_BENCH_WATCH_LATENCY_H_
