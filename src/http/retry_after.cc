#include "http/retry_after.h"

#include <algorithm>

#include "http/protocol.h"
#include "rangefs/imf_date.h"

namespace rangefs::http {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, std::time_t now) {
  const std::string_view text = TrimOws(value);
  if (text.empty()) return std::nullopt;

  // delay-seconds = 1*DIGIT. Accumulated with a clamp, so no length overflows.
  if (std::ranges::all_of(text, IsDigit)) {
    std::chrono::seconds::rep seconds = 0;
    for (const char c : text) {
      seconds = seconds * 10 + (c - '0');
      if (seconds >= kMaxRetryAfter.count()) return kMaxRetryAfter;
    }
    return std::chrono::seconds(seconds);
  }

  const std::optional<std::time_t> date = ParseImfDate(text, now);
  if (!date) return std::nullopt;
  if (*date <= now) return std::chrono::seconds(0);
  // *date is within years 0-9999, so subtracting a day cannot overflow; `*date - now` could.
  if (now < *date - kMaxRetryAfter.count()) return kMaxRetryAfter;
  return std::chrono::seconds(*date - now);
}

}  // namespace rangefs::http
