#include "http/protocol.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "http/syntax.h"

namespace rangefs::http {
namespace {

// Digits only: from_chars would accept a leading '-' for signed types and we want neither signs
// nor empty strings; it reports overflow as result_out_of_range.
std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || !std::ranges::all_of(s, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (error != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

Status Malformed(std::string_view value, std::string_view why) {
  return Status(ErrorCode::kProtocolViolation,
                "malformed Content-Range \"" + std::string(value) + "\": " + std::string(why));
}

}  // namespace

std::string FormatRangeHeaderValue(std::span<const ByteRange> ranges) {
  std::string value = "bytes=";
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (i > 0) value += ',';
    value += std::to_string(ranges[i].first);
    value += '-';
    value += std::to_string(ranges[i].last);
  }
  return value;
}

Result<ContentRange> ParseContentRange(std::string_view value) {
  const std::string_view text = TrimOws(value);
  // RFC 7233 4.2: Content-Range = byte-content-range / other-content-range, and
  // byte-content-range = bytes-unit SP ( byte-range-resp / unsatisfied-range ).
  const size_t space = text.find(' ');
  if (space == std::string_view::npos) return Malformed(value, "no unit");
  if (!EqualsIgnoreCase(text.substr(0, space), "bytes"))
    return Malformed(value, "unit is not bytes");
  const std::string_view spec = text.substr(space + 1);

  const size_t slash = spec.find('/');
  if (slash == std::string_view::npos) return Malformed(value, "no '/'");
  const std::string_view range_part = spec.substr(0, slash);
  const std::string_view length_part = spec.substr(slash + 1);

  ContentRange result;
  if (length_part != "*") {
    result.complete_length = ParseDecimal(length_part);
    if (!result.complete_length) return Malformed(value, "bad complete length");
  }

  if (range_part == "*") {
    // unsatisfied-range = "*/" complete-length: the length is mandatory here.
    if (!result.complete_length) return Malformed(value, "\"*/*\" names nothing");
    return result;
  }

  const size_t dash = range_part.find('-');
  if (dash == std::string_view::npos) return Malformed(value, "no '-' in range");
  const std::optional<uint64_t> first = ParseDecimal(range_part.substr(0, dash));
  const std::optional<uint64_t> last = ParseDecimal(range_part.substr(dash + 1));
  if (!first || !last) return Malformed(value, "bad range numbers");
  if (*last < *first) return Malformed(value, "last byte before first");
  // A range ending at the largest offset has a length of 2^64, which ByteRange cannot hold.
  if (*last == std::numeric_limits<uint64_t>::max()) return Malformed(value, "range too large");
  if (result.complete_length && *last >= *result.complete_length) {
    return Malformed(value, "range ends past the complete length");
  }
  result.range = ByteRange{*first, *last};
  return result;
}

std::string_view TrimOws(std::string_view value) {
  constexpr std::string_view kWhitespace = " \t";
  const size_t begin = value.find_first_not_of(kWhitespace);
  if (begin == std::string_view::npos) return {};
  const size_t end = value.find_last_not_of(kWhitespace);
  return value.substr(begin, end - begin + 1);
}

bool IsIdentityEncoding(std::string_view content_encoding) {
  const std::string_view trimmed = TrimOws(content_encoding);
  return trimmed.empty() || EqualsIgnoreCase(trimmed, "identity");
}

Status CheckContentRangeCovers(const ContentRange& got, const ByteRange& requested,
                               uint64_t file_size) {
  if (got.range && got.range->first <= requested.first && got.range->last >= requested.last) {
    // Without a total, only the size the probe found bounds what the answer may cover: bytes
    // past it belong to no file we know.
    if (!got.complete_length && got.range->last >= file_size) {
      return Status(ErrorCode::kProtocolViolation,
                    "Content-Range covers " + std::to_string(got.range->first) + "-" +
                        std::to_string(got.range->last) + "/*, past the end of the " +
                        std::to_string(file_size) + "-byte file");
    }
    return CheckContentRangeMatches(ContentRange{requested, got.complete_length}, requested,
                                    file_size);
  }
  return CheckContentRangeMatches(got, requested, file_size);
}

Status CheckPartCoversAskedRanges(const ByteRange& part, std::span<const ByteRange> asked) {
  bool overlaps_any = false;
  for (const ByteRange& range : asked) {
    if (part.last < range.first || part.first > range.last) continue;
    overlaps_any = true;
    if (part.first > range.first || part.last < range.last) {
      return Status(ErrorCode::kProtocolViolation,
                    "a part for " + std::to_string(part.first) + "-" + std::to_string(part.last) +
                        " cuts the asked range " + std::to_string(range.first) + "-" +
                        std::to_string(range.last));
    }
  }
  if (!overlaps_any) {
    return Status(ErrorCode::kProtocolViolation, "a part for " + std::to_string(part.first) + "-" +
                                                     std::to_string(part.last) +
                                                     ", which was not asked for");
  }
  return Status::Ok();
}

Status CheckContentRangeMatches(const ContentRange& got, const ByteRange& requested,
                                uint64_t file_size) {
  const std::string asked =
      FormatRangeHeaderValue(std::span(&requested, 1)) + " of " + std::to_string(file_size);
  if (!got.range) {
    return Status(ErrorCode::kProtocolViolation, "Content-Range names no range; asked " + asked);
  }
  if (*got.range != requested) {
    return Status(ErrorCode::kProtocolViolation,
                  "Content-Range covers " + std::to_string(got.range->first) + "-" +
                      std::to_string(got.range->last) + "; asked " + asked);
  }
  if (!got.complete_length) {
    // "*": the server does not say; the range is right if it lies within the file we know.
    if (got.range->last < file_size) return Status::Ok();
    return Status(ErrorCode::kProtocolViolation,
                  "Content-Range total is * and the range ends past the file; asked " + asked);
  }
  if (*got.complete_length != file_size) {
    return Status(
        ErrorCode::kProtocolViolation,
        "Content-Range total is " + std::to_string(*got.complete_length) + "; asked " + asked);
  }
  return Status::Ok();
}

}  // namespace rangefs::http
