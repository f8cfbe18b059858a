// ProgressWatch: decides from a transfer's byte count over time when a response is too slow to
// wait for: nothing at all for the stall limit ("stalled"), or, over each window of that
// length, less than the minimum rate ("too slow": a server that trickles a few bytes a second
// never stalls, and would otherwise hold a reader until the whole request's timeout).
//
// Pure (the caller passes the clock's readings), so tests drive it with made-up times.
// Thread-safety: none; one transfer's callbacks use it, one at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "rangefs/status.h"

namespace rangefs::http {

struct ProgressLimits {
  // A response that receives nothing for this long is cut off; also the window the minimum
  // rate is averaged over. Zero: no limit at all.
  std::chrono::milliseconds window{0};
  // Bytes a second the response must average over every window; zero: only stalls count.
  uint64_t min_rate = 0;
};

class ProgressWatch {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ProgressWatch(const ProgressLimits& limits) : limits_(limits) {}

  // Called with the body bytes received so far, at least once a second while the transfer
  // runs. The clock starts at the first call (when the transfer starts, not when it was
  // queued). Returns why the transfer must end (kTransport), or nullopt to go on.
  std::optional<Status> OnProgress(Clock::time_point now, uint64_t received);

 private:
  const ProgressLimits limits_;
  bool started_ = false;
  uint64_t received_ = 0;
  Clock::time_point last_progress_;  // when received_ last grew
  Clock::time_point window_start_;   // the current window of the rate rule
  uint64_t window_received_ = 0;     // received at window_start_
};

}  // namespace rangefs::http
