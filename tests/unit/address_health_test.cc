#include "rangefs/address_health.h"

#include <gtest/gtest.h>

namespace rangefs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class AddressHealthTest : public ::testing::Test {
 protected:
  std::chrono::steady_clock::time_point now_{seconds(1000)};
  AddressHealth health_{3, BackoffLimits{.first = seconds(1), .most = seconds(10)},
                        [this] { return now_; }};
};

TEST_F(AddressHealthTest, AllUsableAtFirst) {
  for (size_t i = 0; i < health_.size(); ++i) {
    EXPECT_TRUE(health_.Usable(i));
    EXPECT_EQ(health_.FailuresOf(i), 0u);
  }
}

TEST_F(AddressHealthTest, AFailureBacksOffThatAddressOnly) {
  EXPECT_EQ(health_.ReportFailure(1), seconds(1));
  EXPECT_TRUE(health_.Usable(0));
  EXPECT_FALSE(health_.Usable(1));
  EXPECT_TRUE(health_.Usable(2));
  now_ += milliseconds(999);
  EXPECT_FALSE(health_.Usable(1));
  now_ += milliseconds(1);
  EXPECT_TRUE(health_.Usable(1));
}

TEST_F(AddressHealthTest, BackOffDoublesUpToTheResetInterval) {
  const milliseconds expected[] = {seconds(1), seconds(2),  seconds(4),
                                   seconds(8), seconds(10), seconds(10)};
  for (milliseconds delay : expected) {
    EXPECT_EQ(health_.ReportFailure(0), delay);
    EXPECT_FALSE(health_.Usable(0));
    now_ += delay;
    EXPECT_TRUE(health_.Usable(0));
  }
  EXPECT_EQ(health_.FailuresOf(0), 6u);
}

TEST_F(AddressHealthTest, ABurstOfFailuresCountsOnce) {
  EXPECT_EQ(health_.ReportFailure(0), seconds(1));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(health_.ReportFailure(0), milliseconds(0));
  EXPECT_EQ(health_.FailuresOf(0), 1u);
  now_ += seconds(1);
  EXPECT_EQ(health_.ReportFailure(0), seconds(2));
}

TEST_F(AddressHealthTest, ASuccessClearsTheBackOff) {
  health_.ReportFailure(2);
  now_ += seconds(1);
  health_.ReportFailure(2);
  EXPECT_TRUE(health_.ReportSuccess(2, now_));
  EXPECT_TRUE(health_.Usable(2));
  EXPECT_EQ(health_.FailuresOf(2), 0u);
  EXPECT_FALSE(health_.ReportSuccess(2, now_)) << "it was not failing any more";
  EXPECT_EQ(health_.ReportFailure(2), seconds(1)) << "the doubling starts over";
}

TEST_F(AddressHealthTest, ASuccessOfARequestOlderThanTheFailureChangesNothing) {
  const auto before = now_;
  now_ += milliseconds(10);
  EXPECT_EQ(health_.ReportFailure(0), seconds(1));
  EXPECT_FALSE(health_.ReportSuccess(0, before)) << "started before the failure";
  EXPECT_FALSE(health_.Usable(0));
  EXPECT_EQ(health_.FailuresOf(0), 1u);
  EXPECT_TRUE(health_.ReportSuccess(0, now_)) << "started after it";
  EXPECT_TRUE(health_.Usable(0));
}

TEST(AddressHealthLimitsTest, AHugeFailureCountDoesNotOverflow) {
  std::chrono::steady_clock::time_point now{seconds(1)};
  AddressHealth health(1, BackoffLimits{.first = milliseconds(1), .most = seconds(300)},
                       [&now] { return now; });
  milliseconds last{0};
  for (int i = 0; i < 200; ++i) {
    last = health.ReportFailure(0);
    now += last;
  }
  EXPECT_EQ(last, seconds(300));
}

}  // namespace
}  // namespace rangefs
