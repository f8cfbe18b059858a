// RetryPolicy: whether and when to try a failed request again. Pure: the caller supplies the
// time left before its deadline and a random number, so tests can pin both.
//
// Backoff is exponential with full jitter (a uniformly random wait between zero and the
// exponential step): clients that failed together do not come back together. A server's
// Retry-After replaces the backoff; a wait that would outlast the deadline gives up at once, so
// a reader gets its EIO as early as it is certain.
//
// Thread-safety: immutable after construction.
#pragma once

#include <chrono>
#include <optional>

#include "rangefs/status.h"

namespace rangefs {

struct RetryConfig {
  int max_retries = 5;                         // tries after the first
  std::chrono::milliseconds deadline{60'000};  // for one fetch, every try and wait together
  std::chrono::milliseconds base_delay{100};   // the first backoff step
  std::chrono::milliseconds max_delay{5'000};  // the largest backoff step
};

class RetryPolicy {
 public:
  explicit RetryPolicy(const RetryConfig& config) : config_(config) {}

  // The wait before retry number `retry` (1 for the first retry) after `failure`, or nullopt to
  // give up: not retryable, out of retries, or the wait would not end before `time_left` runs
  // out. `random01` is uniform in [0, 1).
  std::optional<std::chrono::milliseconds> DelayBeforeRetry(int retry, const Status& failure,
                                                            std::chrono::milliseconds time_left,
                                                            double random01) const;

  const RetryConfig& config() const { return config_; }

 private:
  const RetryConfig config_;
};

}  // namespace rangefs
