// Content-Range (ParseContentRange) and the check of a 206 answer against the request
// (CheckContentRangeMatches). Input: one header value.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>

#include "fuzz_check.h"
#include "http/protocol.h"

namespace rangefs::fuzz {
namespace {

// The canonical spelling of a parsed value, as a server would send it.
std::string Format(const http::ContentRange& value) {
  std::string text = "bytes ";
  text += value.range ? std::to_string(value.range->first) + "-" + std::to_string(value.range->last)
                      : "*";
  text += "/";
  text += value.complete_length ? std::to_string(*value.complete_length) : "*";
  return text;
}

void CheckMatches(const http::ContentRange& value) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (!value.range || !value.complete_length) {
    // Names no range or no size: no request can be satisfied by it.
    const ByteRange any{0, 0};
    FUZZ_CHECK(!http::CheckContentRangeMatches(value, any, 1).ok());
    if (value.range) {
      FUZZ_CHECK(!http::CheckContentRangeMatches(value, *value.range, value.range->last + 1).ok());
    }
    return;
  }
  const ByteRange range = *value.range;
  const uint64_t size = *value.complete_length;
  const Status exact = http::CheckContentRangeMatches(value, range, size);
  FUZZ_CHECK(exact.ok());
  // Any other request or size is refused, with a reason.
  auto refused = [&](const ByteRange& requested, uint64_t file_size) {
    const Status status = http::CheckContentRangeMatches(value, requested, file_size);
    FUZZ_CHECK(!status.ok());
    FUZZ_CHECK(status.code() == ErrorCode::kProtocolViolation);
    FUZZ_CHECK(!status.message().empty());
  };
  if (size < kMax) refused(range, size + 1);
  refused(range, size - 1);
  if (range.first > 0) refused({range.first - 1, range.last}, size);
  if (range.last > range.first) refused({range.first, range.last - 1}, size);
  if (range.last + 1 < size) refused({range.first, range.last + 1}, size);
  FUZZ_CHECK(http::FormatRangeHeaderValue(std::span(&range, 1)) ==
             "bytes=" + std::to_string(range.first) + "-" + std::to_string(range.last));
}

}  // namespace
}  // namespace rangefs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rangefs;
  const std::string_view text = fuzz::AsText(data, size);
  const Result<http::ContentRange> parsed = http::ParseContentRange(text);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == ErrorCode::kProtocolViolation);
    FUZZ_CHECK(!parsed.status().message().empty());
    return 0;
  }
  const http::ContentRange& value = *parsed;
  FUZZ_CHECK(value.range || value.complete_length);  // "*/*" names nothing
  if (value.range) {
    FUZZ_CHECK(value.range->last >= value.range->first);
    FUZZ_CHECK(value.range->last < std::numeric_limits<uint64_t>::max());
    if (value.complete_length) FUZZ_CHECK(value.range->last < *value.complete_length);
  }
  // The canonical form parses to the same value, however the input was spelled.
  const std::string canonical = fuzz::Format(value);
  const Result<http::ContentRange> reparsed = http::ParseContentRange(canonical);
  FUZZ_CHECK(reparsed.ok());
  FUZZ_CHECK(*reparsed == value);
  // Beyond surrounding whitespace and the unit's case, only leading zeros are free: the
  // canonical form is never longer than the trimmed input.
  FUZZ_CHECK(canonical.size() <= fuzz::TrimWhitespace(text).size());
  fuzz::CheckMatches(value);
  return 0;
}
