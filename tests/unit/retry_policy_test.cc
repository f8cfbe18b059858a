#include "rangefs/retry_policy.h"

#include <gtest/gtest.h>

#include <optional>

#include "fakes/printers.h"

namespace rangefs {
namespace {

using std::chrono::milliseconds;

const RetryConfig kConfig{.max_retries = 5,
                          .deadline = milliseconds(60'000),
                          .base_delay = milliseconds(100),
                          .max_delay = milliseconds(5'000)};
constexpr milliseconds kPlenty(60'000);

Status Transport() { return Status(ErrorCode::kTransport, "connection reset"); }

TEST(RetryPolicyTest, RetriesOnlyWhatMayPass) {
  const RetryPolicy policy(kConfig);
  for (ErrorCode code : {ErrorCode::kTransport, ErrorCode::kTruncated, ErrorCode::kServerBusy}) {
    SCOPED_TRACE(ErrorCodeName(code));
    EXPECT_TRUE(policy.DelayBeforeRetry(1, Status(code, "x"), kPlenty, 0.5).has_value());
  }
  for (ErrorCode code :
       {ErrorCode::kHttpStatus, ErrorCode::kProtocolViolation, ErrorCode::kRangeNotSupported,
        ErrorCode::kRangeNotSatisfiable, ErrorCode::kRemoteChanged, ErrorCode::kUrlExpired,
        ErrorCode::kRedirected, ErrorCode::kInternal}) {
    SCOPED_TRACE(ErrorCodeName(code));
    EXPECT_EQ(policy.DelayBeforeRetry(1, Status(code, "x"), kPlenty, 0.5), std::nullopt);
  }
}

TEST(RetryPolicyTest, StopsAfterMaxRetries) {
  const RetryPolicy policy(kConfig);
  EXPECT_TRUE(policy.DelayBeforeRetry(5, Transport(), kPlenty, 0.5).has_value());
  EXPECT_EQ(policy.DelayBeforeRetry(6, Transport(), kPlenty, 0.5), std::nullopt);
  EXPECT_EQ(policy.DelayBeforeRetry(0, Transport(), kPlenty, 0.5), std::nullopt);
  const RetryPolicy none({.max_retries = 0});
  EXPECT_EQ(none.DelayBeforeRetry(1, Transport(), kPlenty, 0.5), std::nullopt);
}

TEST(RetryPolicyTest, ExponentialStepsWithFullJitterUpToTheCap) {
  const RetryPolicy policy({.max_retries = 100,
                            .deadline = kPlenty,
                            .base_delay = milliseconds(100),
                            .max_delay = milliseconds(5'000)});
  const struct {
    int retry;
    milliseconds step;
  } cases[] = {{1, milliseconds(100)},   {2, milliseconds(200)},   {3, milliseconds(400)},
               {6, milliseconds(3'200)}, {7, milliseconds(5'000)}, {60, milliseconds(5'000)}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.retry);
    EXPECT_EQ(policy.DelayBeforeRetry(c.retry, Transport(), kPlenty, 0.0), milliseconds(0));
    EXPECT_EQ(policy.DelayBeforeRetry(c.retry, Transport(), kPlenty, 0.5), c.step / 2);
    const std::optional<milliseconds> top =
        policy.DelayBeforeRetry(c.retry, Transport(), kPlenty, 0.9999);
    ASSERT_TRUE(top.has_value());
    EXPECT_LE(*top, c.step);
    EXPECT_GE(*top, c.step - milliseconds(1));
  }
}

TEST(RetryPolicyTest, RetryAfterReplacesTheBackoff) {
  const RetryPolicy policy(kConfig);
  const Status busy =
      Status(ErrorCode::kServerBusy, "HTTP 503").WithRetryAfter(milliseconds(7'000));
  EXPECT_EQ(policy.DelayBeforeRetry(1, busy, kPlenty, 0.1), milliseconds(7'000))
      << "honoured even above the backoff cap";
}

TEST(RetryPolicyTest, AWaitThatWouldOutlastTheDeadlineGivesUpNow) {
  const RetryPolicy policy(kConfig);
  const Status busy =
      Status(ErrorCode::kServerBusy, "HTTP 429").WithRetryAfter(milliseconds(2'000));
  EXPECT_EQ(policy.DelayBeforeRetry(1, busy, milliseconds(2'000), 0.5), std::nullopt);
  EXPECT_EQ(policy.DelayBeforeRetry(1, busy, milliseconds(2'001), 0.5), milliseconds(2'000));
  EXPECT_EQ(policy.DelayBeforeRetry(3, Transport(), milliseconds(0), 0.0), std::nullopt);
  EXPECT_EQ(policy.DelayBeforeRetry(3, Transport(), milliseconds(-5), 0.0), std::nullopt);
}

}  // namespace
}  // namespace rangefs
