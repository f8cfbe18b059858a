// Unit tests of rangefs_linkem's pure parts: argument parsing, token bucket, TCP window, derived
// sizes.
// The proxy itself is tested end to end by tests/integration/test_linkem.py.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <deque>

#include "link_config.h"
#include "parse.h"
#include "send_window.h"
#include "token_bucket.h"

namespace rangefs::linkem {
namespace {

using std::chrono::milliseconds;
using Clock = TokenBucket::Clock;

TEST(ParseByteCountTest, PlainNumbers) {
  EXPECT_EQ(ParseByteCount("0"), 0u);
  EXPECT_EQ(ParseByteCount("1000"), 1000u);
  EXPECT_EQ(ParseByteCount("123456789012"), 123456789012u);
}

TEST(ParseByteCountTest, DecimalSuffixes) {
  EXPECT_EQ(ParseByteCount("50M"), 50'000'000u);
  EXPECT_EQ(ParseByteCount("400M"), 400'000'000u);
  EXPECT_EQ(ParseByteCount("1k"), 1000u);
  EXPECT_EQ(ParseByteCount("1K"), 1000u);
  EXPECT_EQ(ParseByteCount("2G"), 2'000'000'000u);
  EXPECT_EQ(ParseByteCount("1T"), 1'000'000'000'000u);
  EXPECT_EQ(ParseByteCount("1.5G"), 1'500'000'000u);
  EXPECT_EQ(ParseByteCount("0.5k"), 500u);
}

TEST(ParseByteCountTest, BinarySuffixes) {
  EXPECT_EQ(ParseByteCount("64Ki"), 65536u);
  EXPECT_EQ(ParseByteCount("4Mi"), 4u * 1024 * 1024);
  EXPECT_EQ(ParseByteCount("1Gi"), 1024u * 1024 * 1024);
}

TEST(ParseByteCountTest, RejectsMalformed) {
  for (const char* text :
       {"",    "M",  "-1", "+1",  "1e6", "1.",   ".5",   "1.5.5", "50MB", "50m",
        "5 M", " 5", "5 ", "inf", "nan", "0x10", "1Mi5", "50X",   "1Ti5", "9999999T"}) {
    EXPECT_EQ(ParseByteCount(text), std::nullopt) << text;
  }
}

TEST(ParseLoopbackEndpointTest, AcceptsLoopback) {
  const auto endpoint = ParseLoopbackEndpoint("127.0.0.1:8080");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->address().to_string(), "127.0.0.1");
  EXPECT_EQ(endpoint->port(), 8080);
  EXPECT_EQ(ParseLoopbackEndpoint("127.1.2.3:0")->port(), 0);
  EXPECT_EQ(ParseLoopbackEndpoint("127.0.0.1:65535")->port(), 65535);
}

TEST(ParseLoopbackEndpointTest, RejectsOthers) {
  for (const char* text :
       {"", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:8o",
        "0.0.0.0:80", "10.0.0.1:80", "localhost:80", "[::1]:80", "127.0.0.1:123456"}) {
    EXPECT_EQ(ParseLoopbackEndpoint(text), std::nullopt) << text;
  }
}

TEST(TokenBucketTest, StartsFullAndRefillsAtRate) {
  const Clock::time_point t0{};
  TokenBucket bucket(1'000'000, 100'000, t0);
  EXPECT_EQ(bucket.Available(), 100'000u);
  bucket.Take(100'000);
  EXPECT_EQ(bucket.Available(), 0u);
  bucket.Refill(t0 + milliseconds(10));
  EXPECT_EQ(bucket.Available(), 10'000u);
  bucket.Refill(t0 + milliseconds(1000));
  EXPECT_EQ(bucket.Available(), 100'000u);  // clamped at burst
}

TEST(TokenBucketTest, TimeUntil) {
  const Clock::time_point t0{};
  TokenBucket bucket(1'000'000, 100'000, t0);
  EXPECT_EQ(bucket.TimeUntil(100'000), Clock::duration::zero());
  bucket.Take(100'000);
  EXPECT_EQ(bucket.TimeUntil(50'000), std::chrono::milliseconds(50));
  bucket.Refill(t0 + bucket.TimeUntil(50'000));
  EXPECT_EQ(bucket.TimeUntil(50'000), Clock::duration::zero());
  EXPECT_GE(bucket.Available(), 50'000u);
}

TEST(TokenBucketTest, GiveReturnsUnusedTokensUpToBurst) {
  const Clock::time_point t0{};
  TokenBucket bucket(1000, 5000, t0);
  bucket.Take(3000);
  bucket.Give(1000);
  EXPECT_EQ(bucket.Available(), 3000u);
  bucket.Give(10'000);
  EXPECT_EQ(bucket.Available(), 5000u);
}

TEST(TokenBucketTest, TimeGoingBackwardsChangesNothing) {
  const Clock::time_point t0 = Clock::time_point{} + milliseconds(100);
  TokenBucket bucket(1000, 5000, t0);
  bucket.Take(5000);
  bucket.Refill(t0 - milliseconds(50));
  EXPECT_EQ(bucket.Available(), 0u);
  bucket.Refill(t0 + milliseconds(1000));
  EXPECT_EQ(bucket.Available(), 1000u);
}

TEST(TokenBucketTest, LongRunRateIsExactWithFrequentRefills) {
  // 10,000 refills 37 us apart (0.37 s) at 50 MB/s, taking everything each time.
  Clock::time_point now{};
  TokenBucket bucket(50'000'000, 65'536, now);
  bucket.Take(bucket.Available());
  uint64_t taken = 0;
  for (int i = 0; i < 10'000; ++i) {
    now += std::chrono::microseconds(37);
    bucket.Refill(now);
    taken += bucket.Available();
    bucket.Take(bucket.Available());
  }
  EXPECT_NEAR(static_cast<double>(taken), 50e6 * 0.37, 1.0);
}

TEST(SendWindowTest, ReadsFillTheWindowAndAcksFreeIt) {
  const Clock::time_point t0{};
  SendWindow window(1000);
  EXPECT_EQ(window.Room(), 1000u);
  EXPECT_EQ(window.NextAck(), std::nullopt);
  window.OnRead(600);
  window.OnRead(400);
  EXPECT_EQ(window.Room(), 0u);
  // Written is not acknowledged: the bytes stay in flight until their ACK is due.
  window.OnWritten(600, t0 + milliseconds(40));
  EXPECT_EQ(window.Room(), 0u);
  EXPECT_EQ(window.NextAck(), t0 + milliseconds(40));
  window.OnWritten(400, t0 + milliseconds(45));
  window.Acknowledge(t0 + milliseconds(39));
  EXPECT_EQ(window.Room(), 0u);
  window.Acknowledge(t0 + milliseconds(40));
  EXPECT_EQ(window.Room(), 600u);
  EXPECT_EQ(window.NextAck(), t0 + milliseconds(45));
  window.Acknowledge(t0 + milliseconds(100));
  EXPECT_EQ(window.Room(), 1000u);
  EXPECT_EQ(window.in_flight(), 0u);
  EXPECT_EQ(window.NextAck(), std::nullopt);
}

TEST(SendWindowTest, QueuedBytesCountUntilWrittenAndAcked) {
  const Clock::time_point t0{};
  SendWindow window(1000);
  window.OnRead(700);
  window.OnWritten(300, t0 + milliseconds(10));  // a partial write
  window.Acknowledge(t0 + milliseconds(10));
  EXPECT_EQ(window.in_flight(), 400u);  // 400 still queued, never written
  EXPECT_EQ(window.Room(), 600u);
  EXPECT_EQ(window.NextAck(), std::nullopt);
}

TEST(SendWindowTest, WritesAckedAtTheSameInstantShareOneEntry) {
  const Clock::time_point t0{};
  SendWindow window(1000);
  window.OnRead(300);
  window.OnWritten(100, t0 + milliseconds(5));
  window.OnWritten(200, t0 + milliseconds(5));
  window.Acknowledge(t0 + milliseconds(5));
  EXPECT_EQ(window.Room(), 1000u);
  EXPECT_EQ(window.NextAck(), std::nullopt);
}

// The model in one loop: a sender that always has data and reads whatever room there is, each
// read written one delay later and acknowledged one more delay after that. Over 100 round
// trips it carries 100 windows: size / (2 * delay), whatever the read size.
TEST(SendWindowTest, BulkRateIsOneWindowPerRoundTrip) {
  const auto delay = milliseconds(20);
  constexpr uint64_t kSize = 1 << 20;
  for (const uint64_t read_size : {uint64_t{256 * 1024}, uint64_t{100'000}, kSize}) {
    SendWindow window(kSize);
    struct Event {
      Clock::time_point write_at;
      uint64_t bytes;
    };
    std::deque<Event> unwritten;
    Clock::time_point now{};
    const Clock::time_point end = now + 100 * 2 * delay;
    uint64_t carried = 0;
    // Each pass: read while there is room, then advance to the next write or ACK.
    for (int step = 0; step < 100'000 && now < end; ++step) {
      while (window.Room() > 0) {
        const uint64_t n = std::min(read_size, window.Room());
        window.OnRead(n);
        unwritten.push_back({now + delay, n});
      }
      const Clock::time_point next_write = unwritten.empty() ? end : unwritten.front().write_at;
      now = std::min(next_write, window.NextAck().value_or(end));
      while (!unwritten.empty() && unwritten.front().write_at <= now) {
        window.OnWritten(unwritten.front().bytes, now + delay);
        if (now < end) carried += unwritten.front().bytes;
        unwritten.pop_front();
      }
      window.Acknowledge(now);
    }
    EXPECT_EQ(carried, 100 * kSize) << read_size;
  }
}

TEST(LinkConfigTest, Burst) {
  EXPECT_EQ(DerivedBurst(1000), 65536u);
  EXPECT_EQ(DerivedBurst(50'000'000), 65536u);
  EXPECT_EQ(DerivedBurst(400'000'000), 400'000u);
}

TEST(LinkConfigTest, SharedGrant) {
  EXPECT_EQ(DerivedSharedGrant(10'000'000), 32768u);   // half of a 64 KiB burst
  EXPECT_EQ(DerivedSharedGrant(400'000'000), 65536u);  // 40 kB/turn would be too small
  EXPECT_EQ(DerivedSharedGrant(1'000'000'000), 100'000u);
  EXPECT_EQ(DerivedSharedGrant(10'000'000'000), kReadSize);
}

TEST(LinkConfigTest, QueueLimit) {
  LinkConfig config;
  EXPECT_EQ(DerivedQueueLimit(config), kMinQueueLimit);
  config.delay = milliseconds(20);
  EXPECT_EQ(DerivedQueueLimit(config), 2 * kUncappedRate / 50);  // 2 * rate * 20 ms
  config.conn_rate = 50'000'000;
  EXPECT_EQ(DerivedQueueLimit(config), kMinQueueLimit);  // 2 MB < 4 MiB
  config.total_rate = 10'000'000;
  config.delay = milliseconds(1000);
  EXPECT_EQ(DerivedQueueLimit(config), 20'000'000u);  // the smaller cap counts
  config.queue_limit = 12345;
  EXPECT_EQ(DerivedQueueLimit(config), 12345u);
}

}  // namespace
}  // namespace rangefs::linkem
