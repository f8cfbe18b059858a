// HTTP's date format, written and read without the locale or libcurl: IMF-fixdate, RFC 9110's
// name for "Sun, 06 Nov 1994 08:49:37 GMT" (section 5.6.7). A module of its own so that the
// core can show a Last-Modified (in a version's description, in the xattrs) without depending
// on the HTTP layer, which sends these dates in If-Unmodified-Since and reads them from
// Retry-After. Unit-tested (tests/unit/imf_date_test.cc) and fuzzed
// (tests/fuzz/fuzz_retry_after.cc).
//
// What ParseImfDate accepts, exactly (RFC 9110's HTTP-date):
// - Leading and trailing spaces and tabs around the whole value; nothing else is lenient.
// - The three forms of HTTP-date, case-sensitive as RFC 9110 writes them (%s"Sun", "GMT"):
//     IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
//     rfc850-date  "Sunday, 06-Nov-94 08:49:37 GMT"   (obsolete)
//     asctime      "Sun Nov  6 08:49:37 1994"         (obsolete; day as two digits or as SP
//                                                       and one digit)
//   with single spaces exactly where the grammar has them. A recipient must accept all three.
// - The day name must be one of the seven, in the form that date format uses, but need not be
//   the right weekday for the date: a mismatch is accepted, as Go's net/http and libcurl do.
//   The date is what carries the meaning, and a client that rejects it falls back to guessing.
// - The date itself must exist: day 1..28/29/30/31 by month and Gregorian leap year
//   ("Feb 29" only in leap years, never "Feb 30"), hour 0-23, minute 0-59, second 0-60 (60 is
//   the leap second the grammar allows; it counts as the first second of the next minute).
// - Four-digit years 0000-9999. A two-digit rfc850 year is the year with those last two digits
//   in the 100-year window ending 50 years after `now`'s year (RFC 9110: a date that appears to
//   be more than 50 years in the future is the most recent such year in the past). With `now`
//   in 2025, "75" is 2075 and "76" is 1976.
//
// Thread-safety: pure functions (the one-argument ParseImfDate reads the clock).
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace rangefs {

// `time` as IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string FormatImfDate(std::time_t time);

// Parses an HTTP-date in any of the three forms; nullopt if malformed. Two-digit rfc850 years
// are resolved against `now` (see above).
std::optional<std::time_t> ParseImfDate(std::string_view value, std::time_t now);

// The same, resolving two-digit years against the current time. Only the obsolete rfc850 form
// depends on the clock.
std::optional<std::time_t> ParseImfDate(std::string_view value);

}  // namespace rangefs
