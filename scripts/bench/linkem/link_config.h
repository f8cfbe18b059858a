// LinkConfig: what the emulated link looks like, set once from the command line and then only
// read. The Derived* functions turn it into the numbers a relay works with.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace rangefs::linkem {

struct LinkConfig {
  // Where every accepted connection is relayed to (a 127.0.0.0/8 address).
  boost::asio::ip::tcp::endpoint target;
  // One-way latency added to every byte and to EOF, independently in each direction.
  std::chrono::nanoseconds delay{0};
  // Cap per connection and direction, bytes per second; 0 = uncapped.
  uint64_t conn_rate = 0;
  // Cap on the sum over all connections, per direction, bytes per second; 0 = uncapped.
  uint64_t total_rate = 0;
  // Emulate the TCP handshake: a new connection's first byte leaves one round trip (2 * delay)
  // after accept, so a fresh connection costs an extra RTT as on a real link. The kernel
  // completes the client's connect() at once, so the proxy can only hold the data back.
  bool handshake = true;
  // Bytes queued per direction before the proxy stops reading from the sender; 0 = derived
  // (DerivedQueueLimit).
  uint64_t queue_limit = 0;
  // TCP window per connection and direction: bytes in flight (read from the sender, ACK not
  // yet back) before the proxy stops reading, so one connection carries at most
  // window / (2 * delay). 0 = none: only the queue limit bounds a stream.
  uint64_t window = 0;
  // Log every connection to stderr.
  bool verbose = false;
};

// Bytes asked of the kernel per read: few syscalls per MB on an uncapped stream.
inline constexpr size_t kReadSize = 256 * 1024;

// Rate assumed for an uncapped link when sizing the queue: 10 Gbit/s, more than a loopback
// stream through this proxy reaches, so the queue never limits an uncapped link's throughput
// (at 20 ms that is 50 MB per direction and connection, and only if the receiver stalls).
inline constexpr uint64_t kUncappedRate = 1'250'000'000;

// Smallest queue bound, as a TCP receive window of a few MiB: memory per connection stays
// bounded even with no delay.
inline constexpr uint64_t kMinQueueLimit = 4 * 1024 * 1024;

// Burst of a token bucket of `rate` bytes/s: 64 KiB or 1 ms worth, whichever is bigger, so a
// capped stream is smooth at the millisecond scale yet reads are not tiny.
uint64_t DerivedBurst(uint64_t rate);

// Bytes a connection may take per turn from a --total-rate bucket of `rate` bytes/s: 64 KiB,
// less than even a fresh loopback socket buffers (so every connection can use its whole turn,
// which keeps shares equal), more at rates where that means over 10,000 turns a second, and
// at most half a burst so the bucket is never drained by one turn.
uint64_t DerivedSharedGrant(uint64_t rate);

// The rate one connection can reach in one direction: the smaller non-zero cap, or
// kUncappedRate.
uint64_t EffectiveRate(const LinkConfig& config);

// config.queue_limit if set, else max(kMinQueueLimit, 2 * EffectiveRate * delay): twice the
// bandwidth-delay product, a memory bound that lets a link run at full rate while bounding
// what a stalled receiver can pile up. It is not a TCP window (see LinkConfig::window): a
// stream is limited to queue_limit / delay, far above what a real window allows when uncapped.
uint64_t DerivedQueueLimit(const LinkConfig& config);

}  // namespace rangefs::linkem
