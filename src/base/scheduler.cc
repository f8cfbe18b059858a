#include "rangefs/scheduler.h"

#include <utility>

namespace rangefs {

TimerThread::~TimerThread() { Stop(); }

void TimerThread::Stop() {
  std::multimap<Clock::time_point, std::function<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    dropped.swap(tasks_);
  }
  // Destroyed outside the lock: a task's captures may call RunAfter as they go.
}

void TimerThread::RunAfter(std::chrono::milliseconds delay, std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    tasks_.emplace(Clock::now() + delay, std::move(task));
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  }
  wake_.notify_one();
}

void TimerThread::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (tasks_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto next = tasks_.begin();
    if (next->first > Clock::now()) {
      wake_.wait_until(lock, next->first);
      continue;
    }
    std::function<void()> task = std::move(next->second);
    tasks_.erase(next);
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace rangefs
