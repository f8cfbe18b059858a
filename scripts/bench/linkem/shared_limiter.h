// SharedLimiter: a token bucket shared by many connections (--total-rate), handing tokens out
// first come, first served. With one timer per waiting connection the one whose timer happened
// to fire first after each refill won, and eight equal streams got anywhere from 50 to 150
// MB/s of a 400 MB/s cap; a FIFO of waiters makes them equal.
//
// Not thread-safe: use from the io_context's one thread. Waiters' callbacks are owned by the
// limiter until called or Clear()ed; they typically keep their connection alive, so call
// Clear() when shutting down.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>

#include "token_bucket.h"

namespace rangefs::linkem {

class SharedLimiter {
 public:
  // `quantum`: the fewest tokens worth waking a waiter for, and the most a waiter should take
  // per turn (turns are first come, first served, so equal turns make equal shares).
  // REQUIRES: 0 < quantum <= burst.
  SharedLimiter(const boost::asio::any_io_executor& executor, uint64_t rate, uint64_t burst,
                uint64_t quantum);
  SharedLimiter(const SharedLimiter&) = delete;
  SharedLimiter& operator=(const SharedLimiter&) = delete;

  // True when nobody is waiting and the bucket holds at least a quantum: the caller may take
  // tokens from bucket() right away. Refills the bucket.
  bool ReadyNow();
  // Queues `ready`, called (from a timer, never from inside Wait) when every earlier waiter has
  // been served and the bucket holds at least a quantum. `ready` takes what it uses from
  // bucket(), or nothing (then the next waiter gets the tokens).
  void Wait(std::function<void()> ready);
  // Drops every waiter without calling it.
  void Clear();

  TokenBucket& bucket() { return bucket_; }
  uint64_t quantum() const { return quantum_; }

 private:
  void ArmTimer();
  void OnTimer();

  TokenBucket bucket_;
  const uint64_t quantum_;
  boost::asio::steady_timer timer_;
  bool timer_armed_ = false;
  std::deque<std::function<void()>> waiters_;
};

}  // namespace rangefs::linkem
