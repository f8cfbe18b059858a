#include "http/syntax.h"

#include <algorithm>

namespace rangefs::http {
namespace {

char ToLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return ToLower(x) == ToLower(y); });
}

bool IsTokenChar(char c) {
  return IsAlnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

size_t TokenLength(std::string_view s) {
  const auto end = std::ranges::find_if_not(s, IsTokenChar);
  return static_cast<size_t>(end - s.begin());
}

bool IsControl(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

std::optional<std::string> TakeQuotedString(std::string_view& s) {
  std::string text;
  for (size_t i = 1; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      s.remove_prefix(i + 1);
      return text;
    }
    if (c == '\\') {
      // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
      if (++i == s.size() || (IsControl(s[i]) && s[i] != '\t')) return std::nullopt;
      text += s[i];
    } else if (IsControl(c) && c != '\t') {
      return std::nullopt;
    } else {
      text += c;
    }
  }
  return std::nullopt;  // no closing quote
}

}  // namespace rangefs::http
