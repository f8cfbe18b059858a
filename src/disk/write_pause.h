// WritePause: the disk cache's state after a fault (no space, read-only, permissions, the index):
// writing stops for a while and is tried again after it, with one log line when it stops and one
// when it works again, however many writes fail meanwhile.
//
// Thread-safety: thread-safe; one mutex, not held while logging.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "rangefs/scheduler.h"
#include "rangefs/status.h"

namespace rangefs::disk {

class WritePause {
 public:
  // `directory` names the cache in the log lines; `clock` must outlive this.
  WritePause(std::string directory, std::chrono::milliseconds pause, const Scheduler& clock)
      : directory_(std::move(directory)), pause_(pause), clock_(clock) {}

  // Whether writing is paused now.
  bool Paused() const;
  // A write or an index update failed with `status`: writing pauses (again) for the pause.
  void Fault(const Status& status);
  // A write worked: writing is no longer paused.
  void Recovered();

 private:
  const std::string directory_;
  const std::chrono::milliseconds pause_;
  const Scheduler& clock_;
  mutable std::mutex mu_;
  bool faulted_ = false;                       // Guarded by mu_
  Scheduler::Clock::time_point paused_until_;  // Guarded by mu_
};

}  // namespace rangefs::disk
