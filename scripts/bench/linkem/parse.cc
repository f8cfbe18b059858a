#include "parse.h"

#include <charconv>
#include <cmath>
#include <string>

namespace rangefs::linkem {
namespace {

// Larger values are certainly typos, and staying far below 2^64 keeps the double -> integer
// conversion below exact.
constexpr double kMaxByteCount = 4611686018427387904.0;  // 2^62

std::optional<double> SuffixMultiplier(std::string_view suffix) {
  if (suffix.empty()) return 1.0;
  const bool binary = suffix.size() == 2 && suffix[1] == 'i';
  if (suffix.size() != 1 && !binary) return std::nullopt;
  const double base = binary ? 1024.0 : 1000.0;
  switch (suffix[0]) {
    case 'k':
    case 'K':
      return base;
    case 'M':
      return base * base;
    case 'G':
      return base * base * base;
    case 'T':
      return base * base * base * base;
    default:
      return std::nullopt;
  }
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<uint64_t> ParseByteCount(std::string_view text) {
  // The number: digits, optionally one '.' followed by digits. from_chars alone would also
  // take exponents, "inf" and "nan", which are not byte counts.
  size_t end = 0;
  while (end < text.size() && IsDigit(text[end])) ++end;
  const size_t integer_digits = end;
  if (end < text.size() && text[end] == '.') {
    ++end;
    const size_t fraction_start = end;
    while (end < text.size() && IsDigit(text[end])) ++end;
    if (end == fraction_start) return std::nullopt;
  }
  if (integer_digits == 0) return std::nullopt;
  double number = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + end, number);
  if (ec != std::errc() || ptr != text.data() + end) return std::nullopt;
  const std::optional<double> multiplier = SuffixMultiplier(text.substr(end));
  if (!multiplier) return std::nullopt;
  const double value = std::round(number * *multiplier);
  if (!(value >= 0 && value <= kMaxByteCount)) return std::nullopt;
  return static_cast<uint64_t>(value);
}

std::optional<boost::asio::ip::tcp::endpoint> ParseLoopbackEndpoint(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5) return std::nullopt;
  for (char c : port_text) {
    if (!IsDigit(c)) return std::nullopt;
  }
  unsigned port = 0;
  std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port > 65535) return std::nullopt;

  boost::system::error_code ec;
  const boost::asio::ip::address_v4 address =
      boost::asio::ip::make_address_v4(std::string(text.substr(0, colon)), ec);
  if (ec || !address.is_loopback()) return std::nullopt;
  return boost::asio::ip::tcp::endpoint(address, static_cast<uint16_t>(port));
}

}  // namespace rangefs::linkem
