#include "send_window.h"

#include <cassert>

namespace rangefs::linkem {

SendWindow::SendWindow(uint64_t size) : size_(size) { assert(size > 0); }

void SendWindow::OnRead(uint64_t n) {
  assert(n <= Room());
  in_flight_ += n;
  unwritten_ += n;
}

void SendWindow::OnWritten(uint64_t n, Clock::time_point ack_at) {
  assert(n <= unwritten_);
  assert(pending_.empty() || pending_.back().at <= ack_at);
  unwritten_ -= n;
  if (n == 0) return;
  // One entry per write, not per byte; writes that finish at the same instant share one.
  if (!pending_.empty() && pending_.back().at == ack_at) {
    pending_.back().bytes += n;
  } else {
    pending_.push_back({ack_at, n});
  }
}

void SendWindow::Acknowledge(Clock::time_point now) {
  while (!pending_.empty() && pending_.front().at <= now) {
    in_flight_ -= pending_.front().bytes;
    pending_.pop_front();
  }
}

std::optional<SendWindow::Clock::time_point> SendWindow::NextAck() const {
  if (pending_.empty()) return std::nullopt;
  return pending_.front().at;
}

}  // namespace rangefs::linkem
