#include "rangefs/imf_date.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <span>

namespace rangefs {
namespace {

constexpr std::string_view kWhitespace = " \t";

// Indexed like std::tm: tm_wday 0 is Sunday, tm_mon 0 is January. Fixed English names:
// strftime's %a and %b, and strptime's, follow the locale; HTTP dates do not.
constexpr std::array<std::string_view, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDayNames = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// 9999-12-31 23:59:59 UTC, the last moment a four-digit year can name. A leap second on that
// day would land in year 10000, which no HTTP-date can be formatted as, so it is refused.
constexpr std::time_t kLastFourDigitSecond = 253402300799;

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(kWhitespace);
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(kWhitespace);
  return s.substr(begin, end - begin + 1);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Consumes a date from left to right; every method either consumes what it names and
// returns it, or fails and leaves the cursor where it was.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : rest_(text) {}

  bool Literal(std::string_view expected) {
    if (!rest_.starts_with(expected)) return false;
    rest_.remove_prefix(expected.size());
    return true;
  }

  // Exactly `count` ASCII digits.
  std::optional<int> Digits(size_t count) {
    if (rest_.size() < count) return std::nullopt;
    int value = 0;
    for (size_t i = 0; i < count; ++i) {
      if (!IsDigit(rest_[i])) return std::nullopt;
      value = value * 10 + (rest_[i] - '0');
    }
    rest_.remove_prefix(count);
    return value;
  }

  // The index of the name `rest_` starts with. No name in one table is a prefix of another.
  std::optional<int> OneOf(std::span<const std::string_view> names) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (Literal(names[i])) return static_cast<int>(i);
    }
    return std::nullopt;
  }

  bool AtEnd() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

struct DateFields {
  int64_t year = 0;
  int month = 0;  // 0-11
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
};

bool IsLeapYear(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int64_t year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 1 && IsLeapYear(year)) return 29;
  return kDays[static_cast<size_t>(month)];
}

// time-of-day = hour ":" minute ":" second, each two digits.
bool ParseTimeOfDay(Cursor& cursor, DateFields& fields) {
  const std::optional<int> hour = cursor.Digits(2);
  if (!hour || !cursor.Literal(":")) return false;
  const std::optional<int> minute = cursor.Digits(2);
  if (!minute || !cursor.Literal(":")) return false;
  const std::optional<int> second = cursor.Digits(2);
  if (!second) return false;
  fields.hour = *hour;
  fields.minute = *minute;
  fields.second = *second;
  return true;
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<DateFields> ParseImfFixdate(std::string_view text) {
  Cursor cursor(text);
  DateFields fields;
  if (!cursor.OneOf(kDayNames) || !cursor.Literal(", ")) return std::nullopt;
  const std::optional<int> day = cursor.Digits(2);
  if (!day || !cursor.Literal(" ")) return std::nullopt;
  const std::optional<int> month = cursor.OneOf(kMonthNames);
  if (!month || !cursor.Literal(" ")) return std::nullopt;
  const std::optional<int> year = cursor.Digits(4);
  if (!year || !cursor.Literal(" ")) return std::nullopt;
  if (!ParseTimeOfDay(cursor, fields) || !cursor.Literal(" GMT") || !cursor.AtEnd()) {
    return std::nullopt;
  }
  fields.year = *year;
  fields.month = *month;
  fields.day = *day;
  return fields;
}

// The year with the last two digits `two_digits` in the 100 years ending 50 years after
// `now`'s year (RFC 9110 section 5.6.7).
std::optional<int64_t> ResolveTwoDigitYear(int two_digits, std::time_t now) {
  std::tm utc{};
  if (gmtime_r(&now, &utc) == nullptr) return std::nullopt;
  const int64_t window_start = int64_t{utc.tm_year} + 1900 + 50 - 99;
  const int64_t offset = ((two_digits - window_start) % 100 + 100) % 100;
  return window_start + offset;
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
std::optional<DateFields> ParseRfc850Date(std::string_view text, std::time_t now) {
  Cursor cursor(text);
  DateFields fields;
  if (!cursor.OneOf(kLongDayNames) || !cursor.Literal(", ")) return std::nullopt;
  const std::optional<int> day = cursor.Digits(2);
  if (!day || !cursor.Literal("-")) return std::nullopt;
  const std::optional<int> month = cursor.OneOf(kMonthNames);
  if (!month || !cursor.Literal("-")) return std::nullopt;
  const std::optional<int> two_digit_year = cursor.Digits(2);
  if (!two_digit_year || !cursor.Literal(" ")) return std::nullopt;
  if (!ParseTimeOfDay(cursor, fields) || !cursor.Literal(" GMT") || !cursor.AtEnd()) {
    return std::nullopt;
  }
  const std::optional<int64_t> year = ResolveTwoDigitYear(*two_digit_year, now);
  if (!year) return std::nullopt;
  fields.year = *year;
  fields.month = *month;
  fields.day = *day;
  return fields;
}

// "Sun Nov  6 08:49:37 1994" or "Sun Nov 06 08:49:37 1994"
std::optional<DateFields> ParseAsctimeDate(std::string_view text) {
  Cursor cursor(text);
  DateFields fields;
  if (!cursor.OneOf(kDayNames) || !cursor.Literal(" ")) return std::nullopt;
  const std::optional<int> month = cursor.OneOf(kMonthNames);
  if (!month || !cursor.Literal(" ")) return std::nullopt;
  std::optional<int> day;
  if (cursor.Literal(" ")) {
    day = cursor.Digits(1);
  } else {
    day = cursor.Digits(2);
  }
  if (!day || !cursor.Literal(" ")) return std::nullopt;
  if (!ParseTimeOfDay(cursor, fields) || !cursor.Literal(" ")) return std::nullopt;
  const std::optional<int> year = cursor.Digits(4);
  if (!year || !cursor.AtEnd()) return std::nullopt;
  fields.year = *year;
  fields.month = *month;
  fields.day = *day;
  return fields;
}

// Seconds since the epoch of a date whose fields name a moment that exists.
std::optional<std::time_t> ToTime(const DateFields& fields) {
  if (fields.year < 0 || fields.year > 9999) return std::nullopt;
  if (fields.day < 1 || fields.day > DaysInMonth(fields.year, fields.month)) return std::nullopt;
  if (fields.hour > 23 || fields.minute > 59 || fields.second > 60) return std::nullopt;
  std::tm utc{};
  utc.tm_year = static_cast<int>(fields.year - 1900);
  utc.tm_mon = fields.month;
  utc.tm_mday = fields.day;
  utc.tm_hour = fields.hour;
  utc.tm_min = fields.minute;
  utc.tm_sec = fields.second;  // 60 rolls over into the next minute
  const std::time_t time = timegm(&utc);
  if (time > kLastFourDigitSecond) return std::nullopt;
  return time;
}

}  // namespace

std::string FormatImfDate(std::time_t time) {
  std::tm utc{};
  gmtime_r(&time, &utc);
  const std::string_view day = kDayNames[static_cast<size_t>(utc.tm_wday) % kDayNames.size()];
  const std::string_view month = kMonthNames[static_cast<size_t>(utc.tm_mon) % kMonthNames.size()];
  std::array<char, 40> buffer{};
  const int length = std::snprintf(
      buffer.data(), buffer.size(), "%.*s, %02d %.*s %04lld %02d:%02d:%02d GMT",
      static_cast<int>(day.size()), day.data(), utc.tm_mday, static_cast<int>(month.size()),
      month.data(), static_cast<long long>(utc.tm_year) + 1900, utc.tm_hour, utc.tm_min,
      utc.tm_sec);
  return std::string(buffer.data(), static_cast<size_t>(std::max(length, 0)));
}

std::optional<std::time_t> ParseImfDate(std::string_view value, std::time_t now) {
  const std::string_view text = Trim(value);
  std::optional<DateFields> fields = ParseImfFixdate(text);
  if (!fields) fields = ParseRfc850Date(text, now);
  if (!fields) fields = ParseAsctimeDate(text);
  if (!fields) return std::nullopt;
  return ToTime(*fields);
}

std::optional<std::time_t> ParseImfDate(std::string_view value) {
  return ParseImfDate(value, std::time(nullptr));
}

}  // namespace rangefs
