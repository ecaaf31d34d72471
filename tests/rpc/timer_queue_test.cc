// TimerQueue (rpc/server/timer_queue.h): a timer added while the thread
// waits toward a later one still runs at its own deadline. Before the fix a
// MoveLeader's 10 ms leader poll slept behind a 5 s request timeout.
#include "rpc/server/timer_queue.h"

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace raftkv::rpc {
namespace {

TEST(TimerQueueTest, EarlierTimerAddedDuringWaitRunsOnTime) {
  TimerQueue timers;
  // The far timer never runs: the queue is destroyed first.
  timers.At(absl::Now() + absl::Minutes(10), [] { ADD_FAILURE(); });
  absl::Notification first;
  timers.At(absl::Now() + absl::Milliseconds(1), [&] { first.Notify(); });
  ASSERT_TRUE(first.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // The thread now waits toward the 10-minute timer.
  absl::Notification second;
  timers.At(absl::Now() + absl::Milliseconds(1), [&] { second.Notify(); });
  EXPECT_TRUE(second.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

TEST(TimerQueueTest, RunsInDeadlineOrder) {
  TimerQueue timers;
  absl::Mutex mu;
  std::vector<int> order;
  absl::Notification done;
  const absl::Time now = absl::Now();
  timers.At(now + absl::Milliseconds(30), [&] {
    absl::MutexLock l(&mu);
    order.push_back(3);
    done.Notify();
  });
  timers.At(now + absl::Milliseconds(10), [&] {
    absl::MutexLock l(&mu);
    order.push_back(1);
  });
  timers.At(now + absl::Milliseconds(20), [&] {
    absl::MutexLock l(&mu);
    order.push_back(2);
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::MutexLock l(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace raftkv::rpc
