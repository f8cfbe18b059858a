#include "http/progress_watch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

namespace rangefs::http {
namespace {

using std::chrono::milliseconds;
using Clock = ProgressWatch::Clock;

const Clock::time_point kStart = Clock::time_point() + std::chrono::hours(1);

Clock::time_point At(int ms) { return kStart + milliseconds(ms); }

TEST(ProgressWatchTest, SilenceForTheWindowIsAStall) {
  ProgressWatch watch({.window = milliseconds(15'000), .min_rate = 0});
  EXPECT_FALSE(watch.OnProgress(At(0), 0));
  EXPECT_FALSE(watch.OnProgress(At(14'999), 0));
  const std::optional<Status> stalled = watch.OnProgress(At(15'000), 0);
  ASSERT_TRUE(stalled);
  EXPECT_EQ(stalled->code(), ErrorCode::kTransport);
  EXPECT_NE(stalled->message().find("stalled"), std::string::npos) << stalled->message();
}

TEST(ProgressWatchTest, TheClockStartsAtTheFirstCallNotBefore) {
  ProgressWatch watch({.window = milliseconds(1'000), .min_rate = 0});
  EXPECT_FALSE(watch.OnProgress(At(50'000), 0));  // queued for a long time before
  EXPECT_FALSE(watch.OnProgress(At(50'999), 0));
  EXPECT_TRUE(watch.OnProgress(At(51'000), 0));
}

TEST(ProgressWatchTest, ATrickleNeverStallsButIsTooSlow) {
  ProgressWatch watch({.window = milliseconds(15'000), .min_rate = 1024});
  EXPECT_FALSE(watch.OnProgress(At(0), 0));
  // 10 bytes a second: never silent for a whole window.
  std::optional<Status> ended;
  int at = 0;
  for (uint64_t received = 10; !ended && at < 60'000; received += 10) {
    at += 1000;
    ended = watch.OnProgress(At(at), received);
  }
  ASSERT_TRUE(ended) << "a trickle of 10 bytes a second was never cut off";
  EXPECT_EQ(at, 15'000) << "cut off after one window";
  EXPECT_NE(ended->message().find("too slow"), std::string::npos) << ended->message();
  EXPECT_NE(ended->message().find("--min-rate"), std::string::npos) << ended->message();
}

TEST(ProgressWatchTest, ARateAtTheMinimumGoesOnForEver) {
  ProgressWatch watch({.window = milliseconds(2'000), .min_rate = 1000});
  EXPECT_FALSE(watch.OnProgress(At(0), 0));
  for (int second = 1; second <= 600; ++second) {
    ASSERT_FALSE(watch.OnProgress(At(second * 1000), static_cast<uint64_t>(second) * 1000))
        << "at " << second << " s";
  }
}

TEST(ProgressWatchTest, EachWindowIsJudgedOnItsOwn) {
  // A fast start does not pay for a later trickle: the average is per window.
  ProgressWatch watch({.window = milliseconds(10'000), .min_rate = 100});
  EXPECT_FALSE(watch.OnProgress(At(0), 0));
  EXPECT_FALSE(watch.OnProgress(At(10'000), 1'000'000));  // window 1: 100 KB/s
  EXPECT_FALSE(watch.OnProgress(At(15'000), 1'000'100));
  const std::optional<Status> ended = watch.OnProgress(At(20'000), 1'000'200);  // 20 B/s
  ASSERT_TRUE(ended);
  EXPECT_NE(ended->message().find("200 bytes in the last 10000 ms"), std::string::npos)
      << ended->message();
}

TEST(ProgressWatchTest, AZeroWindowNeverEndsATransfer) {
  ProgressWatch watch({.window = milliseconds(0), .min_rate = 1024});
  EXPECT_FALSE(watch.OnProgress(At(0), 0));
  EXPECT_FALSE(watch.OnProgress(At(3'600'000), 0));
}

}  // namespace
}  // namespace rangefs::http
