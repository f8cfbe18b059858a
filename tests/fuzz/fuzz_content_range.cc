// Content-Range (ParseContentRange) and the checks of a 206 answer against the request
// (CheckContentRangeMatches, and CheckContentRangeCovers for a total of "*"). Input: one header
// value.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
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

// "bytes a-b/*" (RFC 9110 section 14.4: the server does not know the total): it answers a
// request for exactly a-b in any file that holds byte b, and nothing else; what it covers must
// lie within the file for a request it contains.
void CheckUnknownTotal(const ByteRange& range) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const http::ContentRange value{range, std::nullopt};
  FUZZ_CHECK(http::CheckContentRangeMatches(value, range, range.last + 1).ok());
  FUZZ_CHECK(http::CheckContentRangeCovers(value, range, range.last + 1).ok());
  if (range.last < kMax - 1) {
    FUZZ_CHECK(http::CheckContentRangeMatches(value, range, kMax).ok());
  }
  auto refused = [&](const ByteRange& requested, uint64_t file_size) {
    const Status status = http::CheckContentRangeMatches(value, requested, file_size);
    FUZZ_CHECK(status.code() == ErrorCode::kProtocolViolation);
    FUZZ_CHECK(!status.message().empty());
  };
  refused(range, range.last);  // ends past the file
  if (range.first > 0) refused({range.first - 1, range.last}, range.last + 1);
  if (range.last > range.first) refused({range.first, range.last - 1}, range.last + 1);
  // Covers: a request inside it, in a file that ends before what it covers, is refused.
  if (range.last > range.first) {
    const ByteRange inside{range.first, range.last - 1};
    FUZZ_CHECK(http::CheckContentRangeCovers(value, inside, range.last + 1).ok());
    FUZZ_CHECK(http::CheckContentRangeCovers(value, inside, range.last).code() ==
               ErrorCode::kProtocolViolation);
  }
}

void CheckMatches(const http::ContentRange& value) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (!value.range) {
    // Names no range: no request can be satisfied by it.
    const ByteRange any{0, 0};
    FUZZ_CHECK(!http::CheckContentRangeMatches(value, any, 1).ok());
    FUZZ_CHECK(!http::CheckContentRangeCovers(value, any, 1).ok());
    return;
  }
  if (!value.complete_length) return CheckUnknownTotal(*value.range);
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
