// TokenBucket: a byte-rate limiter. Tokens (bytes) accrue at `rate` per second up to `burst`;
// a sender takes tokens before it sends. Not thread-safe. Time is always passed in, so tests
// drive it with made-up time points and the caller decides when to read the clock.
#pragma once

#include <chrono>
#include <cstdint>

namespace rangefs::linkem {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts full at `now`. REQUIRES: rate > 0, burst > 0.
  TokenBucket(uint64_t rate, uint64_t burst, Clock::time_point now);

  // Adds the tokens accrued since the previous Refill (or construction), up to burst. A `now`
  // earlier than the previous one changes nothing.
  void Refill(Clock::time_point now);

  // Whole tokens held as of the last Refill.
  uint64_t Available() const;

  // REQUIRES: n <= Available().
  void Take(uint64_t n);

  // Returns tokens taken but not used (a short read); the bucket never exceeds burst.
  void Give(uint64_t n);

  // How long after the last Refill the bucket holds at least n tokens; zero if it does now.
  // REQUIRES: n <= burst().
  Clock::duration TimeUntil(uint64_t n) const;

  uint64_t rate() const { return rate_; }
  uint64_t burst() const { return burst_; }

 private:
  uint64_t rate_;
  uint64_t burst_;
  double tokens_;  // fractional so that slow rates and frequent refills do not lose bytes
  Clock::time_point last_refill_;
};

}  // namespace rangefs::linkem
