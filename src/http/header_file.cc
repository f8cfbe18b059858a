#include "rangefs/header_file.h"

#include <algorithm>
#include <array>

#include "http/protocol.h"
#include "http/syntax.h"

namespace rangefs {
namespace {

// Headers whose meaning rangefs owns: Range and its preconditions select and verify the
// bytes; Accept-Encoding/TE would let the server encode them; the rest frame the message.
constexpr std::array<std::string_view, 12> kReservedHeaders = {
    "Range",
    "If-Range",
    "If-Match",
    "If-None-Match",
    "If-Modified-Since",
    "If-Unmodified-Since",
    "Accept-Encoding",
    "TE",
    "Content-Length",
    "Transfer-Encoding",
    "Connection",
    "Upgrade",
};

// RFC 9110 field-value characters: visible ASCII, space, tab and obs-text (bytes >= 0x80).
bool IsValueChar(char c) { return c == '\t' || !http::IsControl(c); }

Status Invalid(std::string why) { return Status(ErrorCode::kInvalidArgument, std::move(why)); }

}  // namespace

Result<HttpHeader> ParseHeaderLine(std::string_view line) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return Invalid("expected \"Name: value\" (no ':')");
  const std::string_view name = line.substr(0, colon);
  if (name.empty()) return Invalid("empty header name");
  if (!std::all_of(name.begin(), name.end(), http::IsTokenChar)) {
    return Invalid("the header name is not an HTTP token (blanks or special characters)");
  }
  const std::string_view value = http::TrimOws(line.substr(colon + 1));
  if (!std::all_of(value.begin(), value.end(), IsValueChar)) {
    return Invalid("the header value holds a control character");
  }
  for (const std::string_view reserved : kReservedHeaders) {
    if (http::EqualsIgnoreCase(name, reserved)) {
      return Invalid("rangefs sets " + std::string(reserved) + " itself; it cannot be given");
    }
  }
  return HttpHeader{std::string(name), std::string(value)};
}

Result<std::vector<HttpHeader>> ParseHeaderFile(std::string_view contents) {
  std::vector<HttpHeader> headers;
  size_t line_number = 0;
  while (!contents.empty()) {
    ++line_number;
    const size_t newline = contents.find('\n');
    std::string_view line = contents.substr(0, newline);
    contents.remove_prefix(newline == std::string_view::npos ? contents.size() : newline + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    const std::string_view trimmed = http::TrimOws(line);
    if (trimmed.empty() || trimmed.starts_with('#')) continue;
    Result<HttpHeader> header = ParseHeaderLine(line);
    if (!header.ok()) {
      return Invalid("line " + std::to_string(line_number) + ": " + header.status().message());
    }
    headers.push_back(std::move(header).value());
  }
  return headers;
}

std::string CurlHeaderLine(const HttpHeader& header) {
  if (header.value.empty()) return header.name + ";";
  return header.name + ": " + header.value;
}

}  // namespace rangefs
