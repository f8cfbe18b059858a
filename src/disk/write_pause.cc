#include "disk/write_pause.h"

#include <spdlog/spdlog.h>

namespace rangefs::disk {

bool WritePause::Paused() const {
  const Scheduler::Clock::time_point now = clock_.Now();
  std::lock_guard lock(mu_);
  return faulted_ && now < paused_until_;
}

void WritePause::Fault(const Status& status) {
  const Scheduler::Clock::time_point until = clock_.Now() + pause_;
  {
    std::lock_guard lock(mu_);
    paused_until_ = until;
    if (faulted_) return;
    faulted_ = true;
  }
  spdlog::warn("disk cache: {}: {}; reads go on from memory and the network, writing again in {} s",
               directory_, status.message(),
               std::chrono::duration_cast<std::chrono::seconds>(pause_).count());
}

void WritePause::Recovered() {
  {
    std::lock_guard lock(mu_);
    if (!faulted_) return;
    faulted_ = false;
  }
  spdlog::info("disk cache: {}: writing again", directory_);
}

}  // namespace rangefs::disk
