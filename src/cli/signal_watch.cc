#include "cli/signal_watch.h"

#include <pthread.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace rangefs {

SignalWatch::SignalWatch(std::stop_source stop) : stop_(std::move(stop)) {
  sigemptyset(&set_);
  for (int signal : {SIGINT, SIGTERM, SIGHUP, kWakeSignal}) sigaddset(&set_, signal);
  // Before any other thread exists, so that all of them inherit the mask.
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  thread_ = std::thread([this] { Watch(); });
}

SignalWatch::~SignalWatch() {
  finished_ = true;
  pthread_kill(thread_.native_handle(), kWakeSignal);
  thread_.join();
}

void SignalWatch::Watch() {
  while (true) {
    int signal = 0;
    if (sigwait(&set_, &signal) != 0) continue;
    if (finished_) return;
    if (signal == kWakeSignal) continue;
    if (received_ != 0) {
      // The user insists: nothing more is stored, and the cache is made to survive that.
      std::_Exit(128 + signal);
    }
    received_ = signal;
    const char* const line =
        "\nrangefs warm: stopping; blocks stored so far stay cached (run again to resume; a "
        "second signal ends it at once)\n";
    (void)!write(STDERR_FILENO, line, std::strlen(line));
    stop_.request_stop();
  }
}

}  // namespace rangefs
