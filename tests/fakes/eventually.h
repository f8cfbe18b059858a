// Eventually: waits for a condition that another thread makes true. No sleep and no timing
// assertion: it polls, yielding between tries, until the condition holds or a generous limit
// passes, so a broken test fails instead of hanging.
#pragma once

#include <chrono>
#include <thread>

namespace rangefs::fakes {

inline constexpr std::chrono::seconds kEventuallyLimit{30};

template <typename Predicate>
[[nodiscard]] bool Eventually(Predicate&& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kEventuallyLimit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace rangefs::fakes
