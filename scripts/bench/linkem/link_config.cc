#include "link_config.h"

#include <algorithm>

namespace rangefs::linkem {

uint64_t DerivedBurst(uint64_t rate) { return std::max<uint64_t>(64 * 1024, rate / 1000); }

uint64_t DerivedSharedGrant(uint64_t rate) {
  const uint64_t per_turn = std::clamp<uint64_t>(rate / 10'000, 64 * 1024, kReadSize);
  return std::min(per_turn, DerivedBurst(rate) / 2);
}

uint64_t EffectiveRate(const LinkConfig& config) {
  uint64_t rate = kUncappedRate;
  if (config.conn_rate > 0) rate = std::min(rate, config.conn_rate);
  if (config.total_rate > 0) rate = std::min(rate, config.total_rate);
  return rate;
}

uint64_t DerivedQueueLimit(const LinkConfig& config) {
  if (config.queue_limit > 0) return config.queue_limit;
  const double seconds = std::chrono::duration<double>(config.delay).count();
  const double window = 2.0 * static_cast<double>(EffectiveRate(config)) * seconds;
  // A delay long enough to overflow uint64 is rejected on the command line (at most 60 s).
  return std::max(kMinQueueLimit, static_cast<uint64_t>(window));
}

}  // namespace rangefs::linkem
