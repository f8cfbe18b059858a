// ManualScheduler: a Scheduler whose time moves only when the test says so. Tasks run on the
// test's thread, inside AdvanceBy, in the order they fall due. WhileTimePasses runs a call that
// blocks on such a scheduler (a retry's backoff) while moving its time on.
//
// Thread-safety: RunAfter and Now may be called from any thread; AdvanceBy from one.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "fakes/finishes_within.h"
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

// What a call returned, and how far a ManualScheduler's time moved while it ran.
template <typename T>
struct Timed {
  T value;
  std::chrono::milliseconds elapsed;
};

// Runs `call` (one that waits on `scheduler`, e.g. through backoffs) on a thread of its own,
// moving the scheduler's time on by `step` whenever a task waits, until the call returns. No
// sleep: it polls, yielding. nullopt when the call has not returned within kDeadlockLimit: the
// thread is then left behind, detached, so what it uses must stay alive (or the test crashes
// instead of passing).
template <typename Call>
std::optional<Timed<std::invoke_result_t<Call>>> WhileTimePasses(ManualScheduler& scheduler,
                                                                 std::chrono::milliseconds step,
                                                                 Call call) {
  using T = std::invoke_result_t<Call>;
  auto result = std::make_shared<std::promise<T>>();
  std::future<T> returned = result->get_future();
  std::thread([result, call = std::move(call)]() mutable { result->set_value(call()); }).detach();
  const Scheduler::Clock::time_point start = scheduler.Now();
  const auto limit = std::chrono::steady_clock::now() + kDeadlockLimit;
  while (returned.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    if (std::chrono::steady_clock::now() > limit) return std::nullopt;
    if (scheduler.pending() > 0) {
      scheduler.AdvanceBy(step);
    } else {
      std::this_thread::yield();
    }
  }
  return Timed<T>{returned.get(),
                  std::chrono::duration_cast<std::chrono::milliseconds>(scheduler.Now() - start)};
}

}  // namespace rangefs::fakes
