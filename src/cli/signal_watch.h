// SignalWatch: SIGINT, SIGTERM and SIGHUP for a command that runs in the foreground (rangefs
// warm), blocked in every thread and received by one: the first asks everything to stop through
// a stop_source (what was done so far stays); a second one ends the process at once.
//
// Thread-safety: construct it before any other thread exists, so that all of them inherit the
// signal mask; received() may be read from any thread.
#pragma once

#include <signal.h>

#include <atomic>
#include <stop_token>
#include <thread>

namespace rangefs {

class SignalWatch {
 public:
  explicit SignalWatch(std::stop_source stop);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  // The signal that stopped the command; 0 when none did.
  int received() const { return received_; }

 private:
  // What the destructor wakes the watcher with.
  static constexpr int kWakeSignal = SIGUSR1;

  void Watch();

  std::stop_source stop_;
  sigset_t set_;
  std::atomic<bool> finished_{false};
  std::atomic<int> received_{0};
  std::thread thread_;
};

}  // namespace rangefs
