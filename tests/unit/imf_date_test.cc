#include "rangefs/imf_date.h"

#include <gtest/gtest.h>

#include <ctime>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rangefs {
namespace {

constexpr std::time_t kNov1994 = 784111777;    // Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example
constexpr std::time_t kJune2025 = 1748736000;  // Sun, 01 Jun 2025 00:00:00 GMT
constexpr std::time_t kJune2099 = 4083955200;  // Mon, 01 Jun 2099 00:00:00 GMT
constexpr std::time_t kMinTime = std::numeric_limits<std::time_t>::min();
constexpr std::time_t kMaxTime = std::numeric_limits<std::time_t>::max();

// ---------------------------------------------------------------------------------------------
// FormatImfDate

TEST(FormatImfDateTest, ImfFixdate) {
  EXPECT_EQ(FormatImfDate(kNov1994), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatImfDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatImfDate(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
}

TEST(FormatImfDateTest, YearsBeyondIntDoNotOverflow) {
  // A year just below 2^31 - 1900 once overflowed `tm_year + 1900` (found by fuzzing).
  const std::string date = FormatImfDate(67768004634782256);
  EXPECT_TRUE(date.ends_with(" GMT")) << date;
  EXPECT_NE(date.find(" 2147484548 "), std::string::npos) << date;
}

// ---------------------------------------------------------------------------------------------
// ParseImfDate

struct DateCase {
  std::string_view value;
  std::optional<std::time_t> expected;
  std::time_t now = kJune2025;
};

void ExpectDates(const std::vector<DateCase>& cases) {
  for (const DateCase& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << "\"" << c.value << "\" (size " << c.value.size() << "), now " << c.now);
    EXPECT_EQ(ParseImfDate(c.value, c.now), c.expected);
  }
}

TEST(ParseImfDateTest, AcceptsAllThreeForms) {
  ExpectDates({
      {"Sun, 06 Nov 1994 08:49:37 GMT", kNov1994},   // IMF-fixdate
      {"Sunday, 06-Nov-94 08:49:37 GMT", kNov1994},  // rfc850-date
      {"Sun Nov  6 08:49:37 1994", kNov1994},        // asctime-date, SP DIGIT day
      {"Sun Nov 06 08:49:37 1994", kNov1994},        // asctime-date, 2DIGIT day
  });
}

TEST(ParseImfDateTest, ToleratesSurroundingSpacesAndTabsOnly) {
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

TEST(ParseImfDateTest, EpochBoundariesAndSixtyFourBitTimes) {
  ExpectDates({
      {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
      {"Wed, 31 Dec 1969 23:59:59 GMT", -1},
      {"Tue, 19 Jan 2038 03:14:08 GMT", 2147483648},
      {"Sat, 01 Jan 0000 00:00:00 GMT", -62167219200},
      {"Mon, 01 Jan 0001 00:00:00 GMT", -62135596800},
      {"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799},
  });
}

TEST(ParseImfDateTest, LeapYearsFollowTheGregorianRules) {
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

TEST(ParseImfDateTest, RejectsDaysAndTimesThatDoNotExist) {
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

TEST(ParseImfDateTest, LeapSecondIsTheFirstSecondOfTheNextMinute) {
  ExpectDates({
      {"Sat, 31 Dec 2016 23:59:60 GMT", 1483228800},
      {"Sun, 01 Jan 2017 00:00:00 GMT", 1483228800},
      // It would land in year 10000, which no HTTP-date can name.
      {"Fri, 31 Dec 9999 23:59:60 GMT", std::nullopt},
  });
}

TEST(ParseImfDateTest, AcceptsAWeekdayThatDoesNotMatchTheDate) {
  // Documented choice: the day name is checked for form only.
  ExpectDates({
      {"Mon, 06 Nov 1994 08:49:37 GMT", kNov1994},
      {"Saturday, 06-Nov-94 08:49:37 GMT", kNov1994},
      {"Fri Nov  6 08:49:37 1994", kNov1994},
  });
}

TEST(ParseImfDateTest, DayNamesMustHaveTheFormOfTheirDateForm) {
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

TEST(ParseImfDateTest, NamesAreCaseSensitiveAndEnglish) {
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

TEST(ParseImfDateTest, RejectsEverythingButExactlyTheGrammar) {
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

TEST(ParseImfDateTest, TwoDigitYearsLieInTheHundredYearsEndingFiftyYearsAhead) {
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

TEST(ParseImfDateTest, OneArgumentFormResolvesAgainstTheClock) {
  EXPECT_EQ(ParseImfDate("Sun, 06 Nov 1994 08:49:37 GMT"), kNov1994);
  const std::optional<std::time_t> two_digit = ParseImfDate("Sunday, 06-Nov-94 08:49:37 GMT");
  ASSERT_TRUE(two_digit.has_value());
  const std::time_t now = std::time(nullptr);
  EXPECT_LE(*two_digit - now, std::time_t{51} * 366 * 86400);
  EXPECT_LE(now - *two_digit, std::time_t{50} * 366 * 86400);
}

TEST(ParseImfDateTest, ReadsBackEveryFormattedDate) {
  std::vector<std::time_t> times = {kNov1994,     0,           -1,         1,
                                    951782400,    1709208000,  2147483647, 2147483648,
                                    -62167219200, 253402300799};
  // Every day of several years, at a time of day that moves, including leap years.
  for (std::time_t t = 946684800; t < 1104537600; t += 86400 + 3607) times.push_back(t);
  for (const std::time_t t : times) {
    SCOPED_TRACE(FormatImfDate(t));
    EXPECT_EQ(ParseImfDate(FormatImfDate(t), kJune2025), t);
  }
}

}  // namespace
}  // namespace rangefs
