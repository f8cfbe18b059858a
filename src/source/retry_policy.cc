#include "rangefs/retry_policy.h"

#include <algorithm>

namespace rangefs {

std::optional<std::chrono::milliseconds> RetryPolicy::DelayBeforeRetry(
    int retry, const Status& failure, std::chrono::milliseconds time_left, double random01) const {
  using std::chrono::milliseconds;
  if (!IsRetryable(failure) || retry < 1 || retry > config_.max_retries) return std::nullopt;
  milliseconds delay;
  if (failure.retry_after()) {
    delay = std::max(*failure.retry_after(), milliseconds(0));
  } else {
    // base * 2^(retry-1), computed without overflow: the cap is reached within a few steps.
    milliseconds step = config_.base_delay;
    for (int i = 1; i < retry && step < config_.max_delay; ++i) step *= 2;
    step = std::min(step, config_.max_delay);
    const double fraction = std::clamp(random01, 0.0, 1.0);
    delay =
        milliseconds(static_cast<milliseconds::rep>(static_cast<double>(step.count()) * fraction));
  }
  // Waiting past the deadline would only postpone the failure.
  if (delay >= time_left) return std::nullopt;
  return delay;
}

}  // namespace rangefs
