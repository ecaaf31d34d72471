// WriteLoad: a steady stream of Puts from several writer threads, each
// writing keys <prefix>/w<writer>/<seq> that are never written twice, so an
// acknowledged write can be checked afterwards by key alone. Every
// acknowledged write is recorded with its revision and the times it was sent
// and acknowledged.
//
// Writers use one client with every endpoint (failover as clientv3 does it);
// a failed write is counted and the writer moves on to its next key after a
// short pause, so a dead endpoint is not hammered.
//
// Thread safety: Start/Stop from the owning thread; the accessors from any
// thread.
#ifndef RAFTKV_TESTS_E2E_LOAD_H_
#define RAFTKV_TESTS_E2E_LOAD_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/client/client.h"

namespace raftkv::e2e {

struct AckedWrite {
  std::string key;
  std::string value;
  int64_t revision = 0;  // header.revision of the PutResponse
  absl::Time sent;
  absl::Time acked;
};

class WriteLoad {
 public:
  WriteLoad(std::vector<std::string> endpoints, int writers,
            std::string prefix);
  ~WriteLoad();  // Stop()s

  void Start();
  // Stops the writers and joins them. Idempotent.
  void Stop();

  std::vector<AckedWrite> acked() const;
  int64_t acked_count() const;
  // Writes sent at or after `t` and acknowledged.
  int64_t acked_sent_after(absl::Time t) const;
  // The first acknowledgement of a write sent at or after `t`.
  absl::Time first_ack_sent_after(absl::Time t) const;
  int64_t failures() const;
  // Failure messages and their counts ("CODE: message").
  std::map<std::string, int> failure_kinds() const;

 private:
  void Writer(int w);

  const std::vector<std::string> endpoints_;
  const int writers_;
  const std::string prefix_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;

  mutable absl::Mutex mu_;
  std::vector<AckedWrite> acked_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::e2e

#endif  // RAFTKV_TESTS_E2E_LOAD_H_
