#include "shared_limiter.h"

#include <cassert>
#include <utility>

namespace rangefs::linkem {

using Clock = TokenBucket::Clock;

SharedLimiter::SharedLimiter(const boost::asio::any_io_executor& executor, uint64_t rate,
                             uint64_t burst, uint64_t quantum)
    : bucket_(rate, burst, Clock::now()), quantum_(quantum), timer_(executor) {
  assert(quantum > 0 && quantum <= burst);
}

bool SharedLimiter::ReadyNow() {
  if (!waiters_.empty()) return false;
  bucket_.Refill(Clock::now());
  return bucket_.Available() >= quantum_;
}

void SharedLimiter::Wait(std::function<void()> ready) {
  waiters_.push_back(std::move(ready));
  ArmTimer();
}

void SharedLimiter::Clear() {
  waiters_.clear();
  timer_.cancel();
  timer_armed_ = false;
}

void SharedLimiter::ArmTimer() {
  if (timer_armed_ || waiters_.empty()) return;
  bucket_.Refill(Clock::now());
  timer_armed_ = true;
  // Zero wait when tokens are there already: the callback still runs from the timer, so a
  // waiter is never called back inside its own Wait().
  timer_.expires_after(bucket_.TimeUntil(quantum_));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled by Clear(); `this` may be gone
    timer_armed_ = false;
    OnTimer();
  });
}

void SharedLimiter::OnTimer() {
  bucket_.Refill(Clock::now());
  while (!waiters_.empty() && bucket_.Available() >= quantum_) {
    std::function<void()> ready = std::move(waiters_.front());
    waiters_.pop_front();
    ready();
  }
  ArmTimer();
}

}  // namespace rangefs::linkem
