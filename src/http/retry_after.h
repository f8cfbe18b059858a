// A pure parser for the Retry-After response header (RFC 9110 section 10.2.3). No I/O, no
// locale, no libcurl: unit-tested and fuzzed (tests/fuzz/fuzz_retry_after.cc).
//
// What is accepted, exactly:
// - Leading and trailing spaces and tabs around the whole value; nothing else is lenient.
// - delay-seconds: one or more ASCII digits and nothing else (no sign, no fraction, no
//   exponent). Leading zeros are fine. Any number of digits is valid: a delay longer than
//   kMaxRetryAfter (however many digits, even past 64 bits) is clamped to it.
// - HTTP-date in its three forms, exactly as ParseImfDate (rangefs/imf_date.h) reads them.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <ctime>
#include <optional>
#include <string_view>

namespace rangefs::http {

// The longest wait a Retry-After can ask for; larger delays and later dates are clamped to it.
inline constexpr std::chrono::seconds kMaxRetryAfter{24 * 60 * 60};

// The delay a Retry-After header value asks for: delay-seconds ("120") or an HTTP-date, taken
// relative to `now`. A date at or before `now` gives zero. nullopt for anything malformed.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, std::time_t now);

}  // namespace rangefs::http
