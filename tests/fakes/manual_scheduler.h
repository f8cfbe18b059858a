// ManualScheduler: a Scheduler whose time moves only when the test says so. Tasks run on the
// test's thread, inside AdvanceBy, in the order they fall due.
//
// Thread-safety: RunAfter and Now may be called from any thread; AdvanceBy from one.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

#include "rangefs/scheduler.h"

namespace rangefs::fakes {

class ManualScheduler final : public Scheduler {
 public:
  Clock::time_point Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void RunAfter(std::chrono::milliseconds delay, std::function<void()> task) override {
    std::lock_guard lock(mu_);
    tasks_.emplace(now_ + delay, std::move(task));
  }

  // Moves time forward by `step`, running every task that falls due (including tasks those
  // tasks schedule within the step).
  void AdvanceBy(std::chrono::milliseconds step) {
    Clock::time_point end;
    {
      std::lock_guard lock(mu_);
      end = now_ + step;
    }
    while (true) {
      std::function<void()> task;
      {
        std::lock_guard lock(mu_);
        const auto next = tasks_.begin();
        if (next == tasks_.end() || next->first > end) {
          now_ = end;
          return;
        }
        now_ = std::max(now_, next->first);
        task = std::move(next->second);
        tasks_.erase(next);
      }
      task();
    }
  }
  size_t pending() const {
    std::lock_guard lock(mu_);
    return tasks_.size();
  }

 private:
  mutable std::mutex mu_;
  Clock::time_point now_{};                                        // Guarded by mu_
  std::multimap<Clock::time_point, std::function<void()>> tasks_;  // Guarded by mu_
};

}  // namespace rangefs::fakes
