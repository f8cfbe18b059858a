// The small pieces of HTTP's text syntax (RFC 9110 section 5.6) that several parsers share:
// tokens, quoted strings, control characters, case-insensitive comparison. ASCII only, whatever
// the locale.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rangefs::http {

// Equal but for the case of ASCII letters (header names, media types, "bytes").
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// RFC 9110 section 5.6.2: tchar.
bool IsTokenChar(char c);
// The length of the token at the start of `s` (0 if none).
size_t TokenLength(std::string_view s);

// A control character: below 0x20, or DEL.
bool IsControl(char c);

// RFC 9110 section 5.6.4: the quoted-string at the start of `s` (which starts with '"').
// Removes it from `s` and returns its unescaped text; nullopt when malformed.
std::optional<std::string> TakeQuotedString(std::string_view& s);

}  // namespace rangefs::http
