#include "http/retry_after.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace rangefs::http {
namespace {

using std::chrono::seconds;

constexpr std::time_t kNov1994 = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr std::time_t kMinTime = std::numeric_limits<std::time_t>::min();
constexpr std::time_t kMaxTime = std::numeric_limits<std::time_t>::max();

// ---------------------------------------------------------------------------------------------
// ParseRetryAfter

struct RetryAfterCase {
  std::string_view value;
  std::optional<seconds> expected;
  std::time_t now = kNov1994;
};

void ExpectRetryAfter(const std::vector<RetryAfterCase>& cases) {
  for (const RetryAfterCase& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << "\"" << c.value << "\" (size " << c.value.size() << "), now " << c.now);
    EXPECT_EQ(ParseRetryAfter(c.value, c.now), c.expected);
  }
}

TEST(ParseRetryAfterTest, DelaySeconds) {
  ExpectRetryAfter({
      {"120", seconds(120)},
      {"0", seconds(0)},
      {"1", seconds(1)},
      {"000120", seconds(120)},
      {" 120 ", seconds(120)},
      {"\t5\t", seconds(5)},
      {"86399", seconds(86399)},
      {"120", seconds(120), kMinTime},
      {"120", seconds(120), kMaxTime},
  });
}

TEST(ParseRetryAfterTest, HugeDelaysAreClampedToADay) {
  EXPECT_EQ(kMaxRetryAfter, seconds(86400));
  ExpectRetryAfter({
      {"86400", kMaxRetryAfter},
      {"86401", kMaxRetryAfter},
      {"4294967296", kMaxRetryAfter},
      {"9223372036854775807", kMaxRetryAfter},
      {"18446744073709551616", kMaxRetryAfter},
      {"99999999999999999999999", kMaxRetryAfter},
      {"0000000000000000000000000000000000000000000042", seconds(42)},
  });
}

TEST(ParseRetryAfterTest, RejectsAnythingButDigits) {
  using namespace std::string_view_literals;
  ExpectRetryAfter({
      {"", std::nullopt},
      {" ", std::nullopt},
      {"\t \t", std::nullopt},
      {"-1", std::nullopt},
      {"+1", std::nullopt},
      {"-0", std::nullopt},
      {"1.5", std::nullopt},
      {"1.", std::nullopt},
      {".5", std::nullopt},
      {"1e3", std::nullopt},
      {"0x10", std::nullopt},
      {"12 34", std::nullopt},
      {"1,000", std::nullopt},
      {"1_000", std::nullopt},
      {"120s", std::nullopt},
      {"abc", std::nullopt},
      {"inf", std::nullopt},
      {"NaN", std::nullopt},
      {"\xd9\xa1\xd9\xa2", std::nullopt},  // Arabic-Indic digits one and two
      {"\xef\xbc\x91", std::nullopt},      // fullwidth one
      {"1\0"sv, std::nullopt},
      {"\0"
       "1"sv,
       std::nullopt},
      {"1\n", std::nullopt},
      {"99999999999999999999999x", std::nullopt},
      {"-99999999999999999999999", std::nullopt},
  });
}

TEST(ParseRetryAfterTest, DatesAreRelativeToNow) {
  ExpectRetryAfter({
      {"Sun, 06 Nov 1994 08:51:07 GMT", seconds(90)},
      {"Sunday, 06-Nov-94 08:51:07 GMT", seconds(90)},
      {"Sun Nov  6 08:51:07 1994", seconds(90)},
      {"  Sun, 06 Nov 1994 08:51:07 GMT  ", seconds(90)},
      {"Sun, 06 Nov 1994 08:49:38 GMT", seconds(1)},
      {"Mon, 07 Nov 1994 08:49:36 GMT", seconds(86399)},
  });
}

TEST(ParseRetryAfterTest, PastDatesGiveZero) {
  ExpectRetryAfter({
      {"Sun, 06 Nov 1994 08:49:37 GMT", seconds(0)},
      {"Sun, 06 Nov 1994 08:49:36 GMT", seconds(0)},
      {"Thu, 01 Jan 1970 00:00:00 GMT", seconds(0)},
      {"Sat, 01 Jan 0000 00:00:00 GMT", seconds(0)},
      {"Fri, 31 Dec 9999 23:59:59 GMT", seconds(0), kMaxTime},
  });
}

TEST(ParseRetryAfterTest, FarFutureDatesAreClampedToADay) {
  ExpectRetryAfter({
      {"Mon, 07 Nov 1994 08:49:37 GMT", kMaxRetryAfter},
      {"Mon, 07 Nov 1994 08:49:38 GMT", kMaxRetryAfter},
      {"Fri, 31 Dec 9999 23:59:59 GMT", kMaxRetryAfter},
      // The difference itself would overflow 64 bits.
      {"Fri, 31 Dec 9999 23:59:59 GMT", kMaxRetryAfter, kMinTime},
      {"Thu, 01 Jan 1970 00:00:00 GMT", kMaxRetryAfter, kMinTime},
  });
}

TEST(ParseRetryAfterTest, MalformedDatesAreRejected) {
  ExpectRetryAfter({
      {"Sun, 30 Feb 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 UTC", std::nullopt},
      {"sun, 06 nov 1994 08:49:37 gmt", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 GMT 120", std::nullopt},
      {"120 Sun, 06 Nov 1994 08:49:37 GMT", std::nullopt},
      {"Sunday, 06-Nov-94 08:49:37 GMT", std::nullopt, kMaxTime},
  });
}

}  // namespace
}  // namespace rangefs::http
