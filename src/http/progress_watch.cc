#include "http/progress_watch.h"

#include <string>

namespace rangefs::http {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::optional<Status> ProgressWatch::OnProgress(Clock::time_point now, uint64_t received) {
  if (!started_) {
    started_ = true;
    received_ = received;
    last_progress_ = window_start_ = now;
    window_received_ = received;
    return std::nullopt;
  }
  if (limits_.window <= milliseconds(0)) return std::nullopt;
  if (received != received_) {
    received_ = received;
    last_progress_ = now;
  } else if (now - last_progress_ >= limits_.window) {
    const auto silent = duration_cast<milliseconds>(now - last_progress_);
    return Status(ErrorCode::kTransport, "stalled: nothing received for " +
                                             std::to_string(silent.count()) + " ms after " +
                                             std::to_string(received) + " bytes");
  }
  if (now - window_start_ < limits_.window) return std::nullopt;
  // A window has passed: judge its average, then start the next one here.
  const auto elapsed = duration_cast<milliseconds>(now - window_start_);
  const uint64_t got = received - window_received_;
  const auto ms = static_cast<uint64_t>(elapsed.count());
  if (limits_.min_rate > 0 && got * 1000 < limits_.min_rate * ms) {
    return Status(ErrorCode::kTransport,
                  "too slow: " + std::to_string(got) + " bytes in the last " + std::to_string(ms) +
                      " ms, under the minimum of " + std::to_string(limits_.min_rate) +
                      " bytes/s (--min-rate), after " + std::to_string(received) + " bytes");
  }
  window_start_ = now;
  window_received_ = received;
  return std::nullopt;
}

}  // namespace rangefs::http
