#include "rangefs/address_health.h"

#include <algorithm>
#include <utility>

namespace rangefs {

AddressHealth::AddressHealth(size_t count, BackoffLimits limits, Clock clock)
    : limits_(limits),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      states_(count) {}

std::chrono::steady_clock::time_point AddressHealth::Now() const { return clock_(); }

size_t AddressHealth::size() const {
  std::lock_guard lock(mu_);
  return states_.size();
}

size_t AddressHealth::IndexOf(std::string_view key) {
  std::lock_guard lock(mu_);
  if (const auto it = indices_.find(key); it != indices_.end()) return it->second;
  states_.emplace_back();
  indices_.emplace(std::string(key), states_.size() - 1);
  return states_.size() - 1;
}

std::vector<uint32_t> AddressHealth::FailureCounts() const {
  std::lock_guard lock(mu_);
  std::vector<uint32_t> counts;
  counts.reserve(states_.size());
  for (const State& state : states_) counts.push_back(state.failures);
  return counts;
}

std::vector<std::chrono::steady_clock::time_point> AddressHealth::UsableTimes() const {
  std::lock_guard lock(mu_);
  std::vector<std::chrono::steady_clock::time_point> times;
  times.reserve(states_.size());
  for (const State& state : states_) times.push_back(state.usable_at);
  return times;
}

bool AddressHealth::Usable(size_t i) const { return UsableAt(i) <= Now(); }

std::chrono::steady_clock::time_point AddressHealth::UsableAt(size_t i) const {
  std::lock_guard lock(mu_);
  return states_.at(i).usable_at;
}

uint32_t AddressHealth::FailuresOf(size_t i) const {
  std::lock_guard lock(mu_);
  return states_.at(i).failures;
}

std::chrono::milliseconds AddressHealth::ReportFailure(size_t i) {
  const auto now = Now();
  std::lock_guard lock(mu_);
  State& state = states_.at(i);
  state.failed_at = now;
  if (state.usable_at > now) return std::chrono::milliseconds(0);
  ++state.failures;
  // first * 2^(failures - 1), computed without overflow: the ceiling is reached long before.
  std::chrono::milliseconds delay = limits_.first;
  for (uint32_t k = 1; k < state.failures && delay < limits_.most; ++k) delay *= 2;
  delay = std::min(delay, limits_.most);
  state.usable_at = now + delay;
  return delay;
}

bool AddressHealth::ReportSuccess(size_t i, std::chrono::steady_clock::time_point started) {
  std::lock_guard lock(mu_);
  State& state = states_.at(i);
  if (started < state.failed_at) return false;
  const bool was_failing = state.failures > 0;
  state.failures = 0;
  state.usable_at = {};
  return was_failing;
}

}  // namespace rangefs
