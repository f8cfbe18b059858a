// TaskPool: a fixed number of worker threads running queued tasks in the order queued. For work
// that blocks on the network and should not hold up the caller: listing a directory someone is
// likely to open next, probing the files `ls -l` is about to stat. At most `workers` tasks run
// at once, so such speculative work never takes more connections than the pool has.
//
// Thread-safety: Post may be called from any thread, tasks included. Stop (and the destructor)
// drops tasks not yet started, waits for running ones, and must not be called by a task.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rangefs {

class TaskPool {
 public:
  explicit TaskPool(size_t workers);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Queues `task`; false (and the task is dropped) once the pool is stopping.
  bool Post(std::function<void()> task);
  void Stop();

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // Guarded by mu_
  bool stopping_ = false;                    // Guarded by mu_
  std::vector<std::thread> workers_;         // set in the constructor, joined by Stop
  std::once_flag joined_;
};

}  // namespace rangefs
