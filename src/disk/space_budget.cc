#include "disk/space_budget.h"

#include <algorithm>

namespace rangefs::disk {

Result<uint64_t> SpaceBudget::Limit() {
  const Scheduler::Clock::time_point now = clock_.Now();
  {
    std::lock_guard lock(mu_);
    if (checked_ && now - checked_at_ < interval_) return std::min(options_.max_bytes, budget_);
  }
  Result<FreeSpace> space = files_.SpaceOf(options_.directory);
  if (!space.ok()) return space.status();
  Result<uint64_t> used = index_.Used();
  if (!used.ok()) return used.status();
  const uint64_t min_free = options_.min_free_bytes != 0
                                ? options_.min_free_bytes
                                : static_cast<uint64_t>(static_cast<double>(space->total) *
                                                        options_.min_free_percent / 100.0);
  const uint64_t fillable = *used + space->available;
  const uint64_t budget = fillable > min_free ? fillable - min_free : 0;
  std::lock_guard lock(mu_);
  budget_ = budget;
  checked_ = true;
  checked_at_ = now;
  return std::min(options_.max_bytes, budget);
}

}  // namespace rangefs::disk
