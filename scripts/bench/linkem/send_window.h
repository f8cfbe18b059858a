// SendWindow: the TCP window of one connection and direction (--window). A byte counts
// against it from when the proxy reads it from the sender until its ACK would be back, one
// delay after the proxy wrote it to the receiver. So at most size() bytes are in flight per
// round trip, and one connection carries at most size / (2 * delay) bytes per second, like a
// real TCP stream whose window (the smaller of the sender's send buffer and the receiver's
// receive buffer) is that size.
//
// Not thread-safe. Time is always passed in, so tests drive it with made-up time points and the
// caller decides when to read the clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

namespace rangefs::linkem {

class SendWindow {
 public:
  using Clock = std::chrono::steady_clock;

  // REQUIRES: size > 0.
  explicit SendWindow(uint64_t size);

  // Bytes that may be read from the sender now: size minus the bytes in flight.
  uint64_t Room() const { return size_ - in_flight_; }

  // n bytes were read from the sender. REQUIRES: n <= Room().
  void OnRead(uint64_t n);

  // n of the bytes read were written to the receiver; their ACK is back at `ack_at`.
  // REQUIRES: n no more than read and not yet written; ack_at no earlier than the previous
  // call's (writes are in order and the delay is fixed).
  void OnWritten(uint64_t n, Clock::time_point ack_at);

  // Frees the bytes whose ACK is due at or before `now`.
  void Acknowledge(Clock::time_point now);

  // When the earliest pending ACK is due; nullopt if none is pending.
  std::optional<Clock::time_point> NextAck() const;

  uint64_t size() const { return size_; }
  uint64_t in_flight() const { return in_flight_; }

 private:
  struct PendingAck {
    Clock::time_point at;
    uint64_t bytes;
  };

  const uint64_t size_;
  uint64_t in_flight_ = 0;          // read, and not yet acknowledged
  uint64_t unwritten_ = 0;          // read, and not yet written (only for the REQUIRES check)
  std::deque<PendingAck> pending_;  // written, ACK not yet due; `at` never decreases
};

}  // namespace rangefs::linkem
