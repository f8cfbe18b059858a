#include "http/retry_after.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/validators.h"

namespace rangefs::http {
namespace {

using std::chrono::seconds;

constexpr std::time_t kNov1994 = 784111777;    // Sun, 06 Nov 1994 08:49:37 GMT
constexpr std::time_t kJune2025 = 1748736000;  // Sun, 01 Jun 2025 00:00:00 GMT
constexpr std::time_t kJune2099 = 4083955200;  // Mon, 01 Jun 2099 00:00:00 GMT
constexpr std::time_t kMinTime = std::numeric_limits<std::time_t>::min();
constexpr std::time_t kMaxTime = std::numeric_limits<std::time_t>::max();

struct DateCase {
  std::string_view value;
  std::optional<std::time_t> expected;
  std::time_t now = kJune2025;
};

void ExpectDates(const std::vector<DateCase>& cases) {
  for (const DateCase& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << "\"" << c.value << "\" (size " << c.value.size() << "), now " << c.now);
    EXPECT_EQ(ParseHttpDate(c.value, c.now), c.expected);
  }
}

// ---------------------------------------------------------------------------------------------
// ParseHttpDate

TEST(ParseHttpDateTest, AcceptsAllThreeForms) {
  ExpectDates({
      {"Sun, 06 Nov 1994 08:49:37 GMT", kNov1994},   // IMF-fixdate
      {"Sunday, 06-Nov-94 08:49:37 GMT", kNov1994},  // rfc850-date
      {"Sun Nov  6 08:49:37 1994", kNov1994},        // asctime-date, SP DIGIT day
      {"Sun Nov 06 08:49:37 1994", kNov1994},        // asctime-date, 2DIGIT day
  });
}

TEST(ParseHttpDateTest, ToleratesSurroundingSpacesAndTabsOnly) {
  ExpectDates({
      {"  Sun, 06 Nov 1994 08:49:37 GMT", kNov1994},
      {"Sun, 06 Nov 1994 08:49:37 GMT \t ", kNov1994},
      {"\tSunday, 06-Nov-94 08:49:37 GMT\t", kNov1994},
      {" Sun Nov  6 08:49:37 1994 ", kNov1994},
      {"\nSun, 06 Nov 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 GMT\r\n", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 GMT\v", std::nullopt},
  });
}

TEST(ParseHttpDateTest, EpochBoundariesAndSixtyFourBitTimes) {
  ExpectDates({
      {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
      {"Wed, 31 Dec 1969 23:59:59 GMT", -1},
      {"Tue, 19 Jan 2038 03:14:08 GMT", 2147483648},
      {"Sat, 01 Jan 0000 00:00:00 GMT", -62167219200},
      {"Mon, 01 Jan 0001 00:00:00 GMT", -62135596800},
      {"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799},
  });
}

TEST(ParseHttpDateTest, LeapYearsFollowTheGregorianRules) {
  ExpectDates({
      {"Thu, 29 Feb 2024 12:00:00 GMT", 1709208000},    // divisible by 4
      {"Tue, 29 Feb 2000 00:00:00 GMT", 951782400},     // divisible by 400
      {"Wed, 29 Feb 2023 12:00:00 GMT", std::nullopt},  // not divisible by 4
      {"Thu, 29 Feb 1900 12:00:00 GMT", std::nullopt},  // divisible by 100, not 400
      {"Thu, 29 Feb 2100 12:00:00 GMT", std::nullopt},
      {"Sat, 29 Feb 2400 00:00:00 GMT", 13574563200},
      {"Thursday, 29-Feb-24 12:00:00 GMT", 1709208000},
      {"Thu Feb 29 12:00:00 2024", 1709208000},
      {"Wed Feb 29 12:00:00 2023", std::nullopt},
  });
}

TEST(ParseHttpDateTest, RejectsDaysAndTimesThatDoNotExist) {
  ExpectDates({
      {"Fri, 30 Feb 2024 00:00:00 GMT", std::nullopt},
      {"Sat, 31 Feb 2024 00:00:00 GMT", std::nullopt},
      {"Wed, 31 Apr 2024 00:00:00 GMT", std::nullopt},
      {"Mon, 31 Jun 2024 00:00:00 GMT", std::nullopt},
      {"Tue, 31 Sep 2024 00:00:00 GMT", std::nullopt},
      {"Sun, 31 Nov 2024 00:00:00 GMT", std::nullopt},
      {"Sun, 00 Nov 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 32 Dec 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 24:00:00 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 08:60:00 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:61 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 99:99:99 GMT", std::nullopt},
      {"Sunday, 31-Apr-94 08:49:37 GMT", std::nullopt},
      {"Sun Apr 31 08:49:37 1994", std::nullopt},
      {"Sun Nov  0 08:49:37 1994", std::nullopt},
  });
}

TEST(ParseHttpDateTest, LeapSecondIsTheFirstSecondOfTheNextMinute) {
  ExpectDates({
      {"Sat, 31 Dec 2016 23:59:60 GMT", 1483228800},
      {"Sun, 01 Jan 2017 00:00:00 GMT", 1483228800},
      // It would land in year 10000, which no HTTP-date can name.
      {"Fri, 31 Dec 9999 23:59:60 GMT", std::nullopt},
  });
}

TEST(ParseHttpDateTest, AcceptsAWeekdayThatDoesNotMatchTheDate) {
  // Documented choice: the day name is checked for form only.
  ExpectDates({
      {"Mon, 06 Nov 1994 08:49:37 GMT", kNov1994},
      {"Saturday, 06-Nov-94 08:49:37 GMT", kNov1994},
      {"Fri Nov  6 08:49:37 1994", kNov1994},
  });
}

TEST(ParseHttpDateTest, DayNamesMustHaveTheFormOfTheirDateForm) {
  ExpectDates({
      {"Sunday, 06 Nov 1994 08:49:37 GMT", std::nullopt},  // long name in IMF-fixdate
      {"Sun, 06-Nov-94 08:49:37 GMT", std::nullopt},       // short name in rfc850-date
      {"Sunday Nov  6 08:49:37 1994", std::nullopt},       // long name in asctime-date
      {"Sum, 06 Nov 1994 08:49:37 GMT", std::nullopt},
      {"Sundy, 06-Nov-94 08:49:37 GMT", std::nullopt},
      {", 06 Nov 1994 08:49:37 GMT", std::nullopt},
      {"06 Nov 1994 08:49:37 GMT", std::nullopt},  // RFC 5322 allows this; HTTP does not
  });
}

TEST(ParseHttpDateTest, NamesAreCaseSensitiveAndEnglish) {
  ExpectDates({
      {"sun, 06 Nov 1994 08:49:37 GMT", std::nullopt},
      {"SUN, 06 NOV 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 nov 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 gmt", std::nullopt},
      {"Son, 06 Nov 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Okt 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 November 1994 08:49:37 GMT", std::nullopt},
  });
}

TEST(ParseHttpDateTest, RejectsEverythingButExactlyTheGrammar) {
  using namespace std::string_view_literals;
  ExpectDates({
      {"", std::nullopt},
      {"   ", std::nullopt},
      {"GMT", std::nullopt},
      {"0", std::nullopt},
      {"784111777", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 UTC", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 +0000", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 GMT+1", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 GMTx", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 GMT, Mon", std::nullopt},
      {"Sun, 06 Nov 1994 08:49 GMT", std::nullopt},
      {"Sun, 6 Nov 1994 08:49:37 GMT", std::nullopt},
      {"Sun,  06 Nov 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06  Nov 1994 08:49:37 GMT", std::nullopt},
      {"Sun,06 Nov 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 94 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 01994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov +994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov -994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 8:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37.5 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 08-49-37 GMT", std::nullopt},
      {"Sun, 06 Nov 1994T08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 GMT"sv.substr(0, 28), std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 GMT\0"sv, std::nullopt},
      {"Sun, 06 Nov 1994\0 08:49:37 GMT"sv, std::nullopt},
      {"Sun, \xef\xbc\x90\x36 Nov 1994 08:49:37 GMT", std::nullopt},  // fullwidth zero
      {"Sunday, 06-Nov-1994 08:49:37 GMT", std::nullopt},
      {"Sunday, 06-Nov-4 08:49:37 GMT", std::nullopt},
      {"Sunday, 6-Nov-94 08:49:37 GMT", std::nullopt},
      {"Sunday, 06 Nov 94 08:49:37 GMT", std::nullopt},
      {"Sunday, 06-Nov-94 08:49:37", std::nullopt},
      {"Sun Nov 6 08:49:37 1994", std::nullopt},    // one space before a one-digit day
      {"Sun Nov   6 08:49:37 1994", std::nullopt},  // three
      {"Sun Nov  06 08:49:37 1994", std::nullopt},
      {"Sun Nov  6 08:49:37 94", std::nullopt},
      {"Sun Nov  6 08:49:37 1994 GMT", std::nullopt},
      {"Sun, Nov  6 08:49:37 1994", std::nullopt},
  });
}

TEST(ParseHttpDateTest, TwoDigitYearsLieInTheHundredYearsEndingFiftyYearsAhead) {
  ExpectDates({
      {"Sunday, 06-Nov-94 08:49:37 GMT", kNov1994, kJune2025},
      {"Monday, 06-Nov-00 08:49:37 GMT", 973500577, kJune2025},
      {"Wednesday, 06-Nov-75 08:49:37 GMT", 3340255777, kJune2025},  // 50 years ahead: 2075
      {"Saturday, 06-Nov-76 08:49:37 GMT", 216118177, kJune2025},    // 51 would be: 1976
      {"Friday, 01-Jan-44 00:00:00 GMT", 2335219200, kNov1994},
      {"Monday, 01-Jan-45 00:00:00 GMT", -788918400, kNov1994},
      {"Thursday, 01-Jan-05 00:00:00 GMT", 4260211200, kJune2099},  // 2105, not 2005
      // A clock gmtime cannot convert gives no century to resolve against.
      {"Sunday, 06-Nov-94 08:49:37 GMT", std::nullopt, kMaxTime},
      {"Sunday, 06-Nov-94 08:49:37 GMT", std::nullopt, kMinTime},
      // Four-digit forms do not depend on the clock at all.
      {"Sun, 06 Nov 1994 08:49:37 GMT", kNov1994, kMaxTime},
      {"Sun Nov  6 08:49:37 1994", kNov1994, kMinTime},
  });
}

TEST(ParseHttpDateTest, OneArgumentFormResolvesAgainstTheClock) {
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), kNov1994);
  const std::optional<std::time_t> two_digit = ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT");
  ASSERT_TRUE(two_digit.has_value());
  const std::time_t now = std::time(nullptr);
  EXPECT_LE(*two_digit - now, std::time_t{51} * 366 * 86400);
  EXPECT_LE(now - *two_digit, std::time_t{50} * 366 * 86400);
}

TEST(ParseHttpDateTest, ReadsBackEveryFormattedDate) {
  std::vector<std::time_t> times = {kNov1994,     0,           -1,         1,
                                    951782400,    1709208000,  2147483647, 2147483648,
                                    -62167219200, 253402300799};
  // Every day of several years, at a time of day that moves, including leap years.
  for (std::time_t t = 946684800; t < 1104537600; t += 86400 + 3607) times.push_back(t);
  for (const std::time_t t : times) {
    SCOPED_TRACE(FormatHttpDate(t));
    EXPECT_EQ(ParseHttpDate(FormatHttpDate(t), kJune2025), t);
  }
}

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
