// TimerQueue: runs callbacks at deadlines on one thread ("timer"): request
// timeouts for proposals and reads waiting on Raft.
//
// Thread safety: thread-safe. Callbacks run on the timer thread without the
// lock held and must be quick.
#ifndef RAFTKV_RPC_SERVER_TIMER_QUEUE_H_
#define RAFTKV_RPC_SERVER_TIMER_QUEUE_H_

#include <deque>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace raftkv::rpc {

class TimerQueue {
 public:
  TimerQueue();
  ~TimerQueue();  // drops pending timers without running them
  void At(absl::Time deadline, std::function<void()> fn);

 private:
  void Run();

  absl::Mutex mu_;
  std::multimap<absl::Time, std::function<void()>> timers_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// A fixed pool of worker threads for work that must not run on the Raft,
// apply or gRPC event threads (linearizable reads once their index is
// applied).
class Executor {
 public:
  explicit Executor(int threads);
  ~Executor();  // finishes queued work
  void Run(std::function<void()> fn);

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_SERVER_TIMER_QUEUE_H_
