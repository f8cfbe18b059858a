#include "rangefs/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "fakes/eventually.h"

namespace rangefs {
namespace {

// A gate the test opens: tasks that wait on it hold their worker.
class Gate {
 public:
  void Wait() {
    std::unique_lock lock(mu_);
    opened_.wait(lock, [this] { return open_; });
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    opened_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable opened_;
  bool open_ = false;
};

TEST(TaskPoolTest, RunsAsManyTasksAtOnceAsItHasWorkers) {
  TaskPool pool(2);
  Gate gate;
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(pool.Post([&] {
      ++started;
      gate.Wait();
      ++finished;
    }));
  }
  ASSERT_TRUE(fakes::Eventually([&] { return started == 2; }));
  EXPECT_EQ(started, 2) << "the other three wait for a worker";
  gate.Open();
  ASSERT_TRUE(fakes::Eventually([&] { return finished == 5; }));
}

TEST(TaskPoolTest, StopWaitsForRunningTasksAndDropsQueuedOnes) {
  TaskPool pool(1);
  Gate gate;
  std::atomic<bool> running{false};
  std::atomic<bool> stopped{false};
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.Post([&] {
    running = true;
    gate.Wait();
    ++ran;
  }));
  ASSERT_TRUE(pool.Post([&] { ++ran; }));
  ASSERT_TRUE(fakes::Eventually([&] { return running.load(); }));
  std::thread stopper([&] {
    pool.Stop();
    stopped = true;
  });
  // Post fails once Stop has begun, which drops the queue in the same step.
  ASSERT_TRUE(fakes::Eventually([&] { return !pool.Post([] {}); }));
  EXPECT_FALSE(stopped) << "Stop waits for the running task";
  gate.Open();
  stopper.join();
  EXPECT_EQ(ran, 1) << "the queued task was dropped";
  pool.Stop();  // again: nothing to do
}

TEST(TaskPoolTest, ATaskMayPostAnother) {
  TaskPool pool(1);
  std::atomic<bool> second{false};
  ASSERT_TRUE(pool.Post([&] { pool.Post([&] { second = true; }); }));
  ASSERT_TRUE(fakes::Eventually([&] { return second.load(); }));
}

}  // namespace
}  // namespace rangefs
