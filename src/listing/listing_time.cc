#include "listing/listing_time.h"

#include <array>
#include <cstdint>

namespace rangefs::listing {
namespace {

constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Exactly `count` digits at text[at]; advances `at`.
std::optional<int> Digits(std::string_view text, size_t& at, size_t count) {
  if (text.size() < at + count) return std::nullopt;
  int value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (!IsDigit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  at += count;
  return value;
}

bool Char(std::string_view text, size_t& at, char expected) {
  if (at >= text.size() || text[at] != expected) return false;
  ++at;
  return true;
}

bool IsLeap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int64_t year, int month) {
  constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[static_cast<size_t>(month - 1)];
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

// Seconds since the epoch, when every field is in range (second 60, a leap second, counts as
// the next minute's first).
std::optional<std::time_t> ToTime(int year, int month, int day, int hour, int minute, int second) {
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  const int64_t days = DaysFromCivil(year, month, day);
  return static_cast<std::time_t>(days * 86400 + hour * 3600 + minute * 60 + second);
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::time_t> ParseRfc3339(std::string_view input) {
  const std::string_view text = TrimSpaces(input);
  size_t at = 0;
  const std::optional<int> year = Digits(text, at, 4);
  if (!year || !Char(text, at, '-')) return std::nullopt;
  const std::optional<int> month = Digits(text, at, 2);
  if (!month || !Char(text, at, '-')) return std::nullopt;
  const std::optional<int> day = Digits(text, at, 2);
  if (!day || !(Char(text, at, 'T') || Char(text, at, 't') || Char(text, at, ' '))) {
    return std::nullopt;
  }
  const std::optional<int> hour = Digits(text, at, 2);
  if (!hour || !Char(text, at, ':')) return std::nullopt;
  const std::optional<int> minute = Digits(text, at, 2);
  if (!minute || !Char(text, at, ':')) return std::nullopt;
  const std::optional<int> second = Digits(text, at, 2);
  if (!second) return std::nullopt;
  if (Char(text, at, '.')) {
    const size_t fraction_start = at;
    while (at < text.size() && IsDigit(text[at])) ++at;
    if (at == fraction_start) return std::nullopt;
  }
  int offset_minutes = 0;  // "Z": UTC
  if (!Char(text, at, 'Z') && !Char(text, at, 'z')) {
    if (at >= text.size() || (text[at] != '+' && text[at] != '-')) return std::nullopt;
    const int sign = text[at] == '+' ? 1 : -1;
    ++at;
    const std::optional<int> offset_hours = Digits(text, at, 2);
    if (!offset_hours || *offset_hours > 23 || !Char(text, at, ':')) return std::nullopt;
    const std::optional<int> offset_mins = Digits(text, at, 2);
    if (!offset_mins || *offset_mins > 59) return std::nullopt;
    offset_minutes = sign * (*offset_hours * 60 + *offset_mins);
  }
  if (at != text.size()) return std::nullopt;
  const std::optional<std::time_t> local = ToTime(*year, *month, *day, *hour, *minute, *second);
  if (!local) return std::nullopt;
  return *local - static_cast<std::time_t>(offset_minutes) * 60;
}

std::optional<std::time_t> ParseNginxHtmlTime(std::string_view date, std::string_view time) {
  size_t at = 0;
  const std::optional<int> day = Digits(date, at, 2);
  if (!day || !Char(date, at, '-') || date.size() < at + 3) return std::nullopt;
  const std::string_view month_name = date.substr(at, 3);
  at += 3;
  int month = 0;
  for (size_t i = 0; i < kMonthNames.size(); ++i) {
    if (kMonthNames[i] == month_name) month = static_cast<int>(i) + 1;
  }
  if (month == 0 || !Char(date, at, '-')) return std::nullopt;
  const std::optional<int> year = Digits(date, at, 4);
  if (!year || at != date.size()) return std::nullopt;
  at = 0;
  const std::optional<int> hour = Digits(time, at, 2);
  if (!hour || !Char(time, at, ':')) return std::nullopt;
  const std::optional<int> minute = Digits(time, at, 2);
  if (!minute || at != time.size()) return std::nullopt;
  return ToTime(*year, month, *day, *hour, *minute, 0);
}

}  // namespace rangefs::listing
