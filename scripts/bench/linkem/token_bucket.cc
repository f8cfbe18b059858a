#include "token_bucket.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace rangefs::linkem {

TokenBucket::TokenBucket(uint64_t rate, uint64_t burst, Clock::time_point now)
    : rate_(rate), burst_(burst), tokens_(static_cast<double>(burst)), last_refill_(now) {
  assert(rate > 0 && burst > 0);
}

void TokenBucket::Refill(Clock::time_point now) {
  if (now <= last_refill_) return;
  const double seconds = std::chrono::duration<double>(now - last_refill_).count();
  tokens_ = std::min(static_cast<double>(burst_), tokens_ + seconds * static_cast<double>(rate_));
  last_refill_ = now;
}

uint64_t TokenBucket::Available() const {
  return tokens_ <= 0 ? 0 : static_cast<uint64_t>(std::floor(tokens_));
}

void TokenBucket::Take(uint64_t n) {
  assert(n <= Available());
  tokens_ -= static_cast<double>(n);
}

void TokenBucket::Give(uint64_t n) {
  tokens_ = std::min(static_cast<double>(burst_), tokens_ + static_cast<double>(n));
}

TokenBucket::Clock::duration TokenBucket::TimeUntil(uint64_t n) const {
  assert(n <= burst_);
  const double missing = static_cast<double>(n) - tokens_;
  if (missing <= 0) return Clock::duration::zero();
  const double nanoseconds = std::ceil(missing * 1e9 / static_cast<double>(rate_));
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(static_cast<int64_t>(nanoseconds)));
}

}  // namespace rangefs::linkem
