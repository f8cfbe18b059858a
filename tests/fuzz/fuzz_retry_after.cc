// Retry-After (ParseRetryAfter) and HTTP-dates (ParseImfDate), checked against FormatImfDate.
// Input: one header value, evaluated at several clocks: ordinary ones on either side of the
// two-digit-year window's edges, and the extremes of time_t.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <limits>
#include <optional>
#include <string>

#include "fuzz_check.h"
#include "http/retry_after.h"
#include "rangefs/imf_date.h"

namespace rangefs::fuzz {
namespace {

constexpr std::time_t kYear0 = -62167219200;          // Sat, 01 Jan 0000 00:00:00 GMT
constexpr std::time_t kEndOfYear9999 = 253402300799;  // Fri, 31 Dec 9999 23:59:59 GMT

constexpr std::array<std::time_t, 6> kClocks = {
    784111777,                                // Sun, 06 Nov 1994 08:49:37 GMT
    1748736000,                               // Sun, 01 Jun 2025 00:00:00 GMT
    4083955200,                               // Mon, 01 Jun 2099 00:00:00 GMT
    0,                                        // the epoch
    std::numeric_limits<std::time_t>::min(),  // gmtime cannot convert these two
    std::numeric_limits<std::time_t>::max(),
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// min(digits, one day) computed another way than the parser does.
std::chrono::seconds ExpectedDelay(std::string_view digits) {
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  if (digits.size() > 6) return http::kMaxRetryAfter;
  const std::chrono::seconds delay(std::stoll(std::string(digits)));
  return std::min(delay, http::kMaxRetryAfter);
}

// The delay until `date` seen at `now`, in 128 bits so nothing overflows.
std::chrono::seconds ExpectedDelay(std::time_t date, std::time_t now) {
  const __int128 difference = static_cast<__int128>(date) - now;
  if (difference <= 0) return std::chrono::seconds(0);
  if (difference >= http::kMaxRetryAfter.count()) return http::kMaxRetryAfter;
  return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(difference));
}

}  // namespace
}  // namespace rangefs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rangefs;
  const std::string_view value = fuzz::AsText(data, size);
  const std::string_view trimmed = fuzz::TrimWhitespace(value);
  const bool is_digits = !trimmed.empty() && std::ranges::all_of(trimmed, fuzz::IsDigit);

  std::optional<std::time_t> first_date;
  for (const std::time_t now : fuzz::kClocks) {
    const std::optional<std::time_t> date = ParseImfDate(value, now);
    const std::optional<std::chrono::seconds> delay = http::ParseRetryAfter(value, now);
    if (delay) {
      FUZZ_CHECK(*delay >= std::chrono::seconds(0));
      FUZZ_CHECK(*delay <= http::kMaxRetryAfter);
    }
    if (is_digits) {
      FUZZ_CHECK(!date);
      FUZZ_CHECK(delay == fuzz::ExpectedDelay(trimmed));
      continue;
    }
    // Not delay-seconds: a Retry-After is exactly a date.
    FUZZ_CHECK(delay.has_value() == date.has_value());
    if (!date) continue;
    FUZZ_CHECK(*delay == fuzz::ExpectedDelay(*date, now));
    FUZZ_CHECK(*date >= fuzz::kYear0 && *date <= fuzz::kEndOfYear9999);
    // What FormatImfDate writes reads back as the same moment, at any clock.
    const std::string formatted = FormatImfDate(*date);
    FUZZ_CHECK(ParseImfDate(formatted, now) == date);
    FUZZ_CHECK(ParseImfDate(" " + formatted + "\t", now) == date);
    // Only the two-digit year of the rfc850 form ("Sunday, 06-Nov-94 ...") depends on now.
    if (!first_date) first_date = date;
    if (*first_date != *date) FUZZ_CHECK(trimmed.find('-') != std::string_view::npos);
  }
  return 0;
}
