#include "rpc/server/timer_queue.h"

#include <pthread.h>

#include <utility>
#include <vector>

namespace raftkv::rpc {

TimerQueue::TimerQueue()
    : thread_([this] {
        pthread_setname_np(pthread_self(), "raftkv-timer");
        Run();
      }) {}

TimerQueue::~TimerQueue() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void TimerQueue::At(absl::Time deadline, std::function<void()> fn) {
  absl::MutexLock l(&mu_);
  timers_.emplace(deadline, std::move(fn));
}

void TimerQueue::Run() {
  while (true) {
    std::vector<std::function<void()>> due;
    {
      absl::MutexLock l(&mu_);
      const absl::Time next = timers_.empty()
                                  ? absl::Now() + absl::Milliseconds(100)
                                  : timers_.begin()->first;
      // Wake early for a stop, or for a timer added meanwhile that is due
      // before the one this wait was aimed at (a 10 ms poll must not sleep
      // behind a 5 s request timeout).
      auto wake = [this, next]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || (!timers_.empty() && timers_.begin()->first < next);
      };
      mu_.AwaitWithDeadline(absl::Condition(&wake), next);
      if (stopping_) return;
      const absl::Time now = absl::Now();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        due.push_back(std::move(timers_.begin()->second));
        timers_.erase(timers_.begin());
      }
    }
    for (auto& fn : due) fn();
  }
}

Executor::Executor(int threads) {
  for (int i = 0; i < threads; ++i)
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "raftkv-worker");
      Work();
    });
}

Executor::~Executor() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  for (auto& t : threads_) t.join();
}

void Executor::Run(std::function<void()> fn) {
  absl::MutexLock l(&mu_);
  queue_.push_back(std::move(fn));
}

void Executor::Work() {
  while (true) {
    std::function<void()> fn;
    {
      absl::MutexLock l(&mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&has_work));
      if (queue_.empty()) return;
      fn = std::move(queue_.front());
      queue_.pop_front();
    }
    fn();
  }
}

}  // namespace raftkv::rpc
