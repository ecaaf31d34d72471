// Recorder: appends completed operations to a history file (JSON lines, the
// format of checker/history.h) from many worker threads.
//
// Times are CLOCK_MONOTONIC nanoseconds minus `t0_ns` (the runner passes its
// own start instant, so nemesis events and operations share one timeline).
//
// Thread safety: Record() may be called from any thread; one mutex guards
// the file, held only for the write of one line.
#ifndef RAFTKV_JEPSEN_WORKER_RECORDER_H_
#define RAFTKV_JEPSEN_WORKER_RECORDER_H_

#include <cstdio>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "jepsen/checker/history.h"

namespace raftkv::jepsen {

class Recorder {
 public:
  Recorder(FILE* out, int64_t t0_ns) : out_(out), t0_ns_(t0_ns) {}

  // Nanoseconds since t0.
  int64_t Now() const;

  // Writes `op` plus "node" and (if not empty) "error" fields.
  void Record(const Op& op, const std::string& node, const std::string& error);

 private:
  absl::Mutex mu_;
  FILE* const out_ ABSL_GUARDED_BY(mu_);
  const int64_t t0_ns_;
};

}  // namespace raftkv::jepsen

#endif  // RAFTKV_JEPSEN_WORKER_RECORDER_H_
