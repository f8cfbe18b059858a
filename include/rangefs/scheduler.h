// Scheduler: runs tasks later, and tells the time. The seam through which retries wait: the
// real one is a timer thread (TimerThread), tests use a manual one and move time by hand.
//
// Thread-safety: implementations allow calls from any thread. Tasks run on the scheduler's
// thread and must not block.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace rangefs {

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~Scheduler() = default;
  virtual Clock::time_point Now() const = 0;
  // Runs `task` once, no earlier than `delay` from now. Tasks still waiting when the scheduler
  // is destroyed are destroyed without running.
  virtual void RunAfter(std::chrono::milliseconds delay, std::function<void()> task) = 0;
};

// One thread that sleeps until the next task is due.
class TimerThread final : public Scheduler {
 public:
  TimerThread() = default;
  ~TimerThread() override;
  TimerThread(const TimerThread&) = delete;
  TimerThread& operator=(const TimerThread&) = delete;

  Clock::time_point Now() const override { return Clock::now(); }
  void RunAfter(std::chrono::milliseconds delay, std::function<void()> task) override;
  // Stops the thread and drops waiting tasks; later RunAfter calls do nothing. Idempotent.
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::multimap<Clock::time_point, std::function<void()>> tasks_;  // Guarded by mu_
  bool stopping_ = false;                                          // Guarded by mu_
  // Started by the first RunAfter: rangefs daemonizes (forks) after it is built, and only the
  // forking thread survives a fork.
  std::thread thread_;  // Guarded by mu_ until started
};

}  // namespace rangefs
