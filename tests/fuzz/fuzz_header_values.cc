// The checks rangefs makes on single header values: IsIdentityEncoding (Content-Encoding),
// IsStrongEntityTag (ETag), RangePreconditionHeader, and CheckSameVersion on a version and a
// response built from the input. Input: lines (missing lines count as empty)
//   1 Content-Encoding   2 expected ETag   3 expected Last-Modified (seconds)   4 expected size
//   5 response ETag      6 response Last-Modified (seconds)   7 response size
// where a response line that is "-" or absent leaves that validator out of the response, and
// a number that does not parse (optional sign, decimal) counts as absent. Every line is also
// checked as a Content-Encoding and as an ETag.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "http/protocol.h"
#include "http/validators.h"
#include "rangefs/remote_file.h"

namespace rangefs::fuzz {
namespace {

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// Reference versions, written from the RFC text rather than from the code under test.
bool ExpectIdentity(std::string_view value) {
  const std::string_view trimmed = TrimWhitespace(value);
  return trimmed.empty() || EqualsIgnoreAsciiCase(trimmed, "identity");
}

bool ExpectStrong(std::string_view etag) {
  // DQUOTE *etagc DQUOTE with no DQUOTE inside (etagc is %x21 / %x23-7E / obs-text, but
  // rangefs only insists on the quotes).
  if (etag.size() < 2 || etag.front() != '"' || etag.back() != '"') return false;
  for (size_t i = 1; i + 1 < etag.size(); ++i) {
    if (etag[i] == '"') return false;
  }
  return true;
}

template <typename T>
std::optional<T> Number(std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

void CheckHeaderValue(std::string_view value) {
  FUZZ_CHECK(http::IsIdentityEncoding(value) == ExpectIdentity(value));
  const bool strong = http::IsStrongEntityTag(value);
  FUZZ_CHECK(strong == ExpectStrong(value));
  if (strong) {
    FUZZ_CHECK(!http::IsStrongEntityTag("W/" + std::string(value)));
    FUZZ_CHECK(http::IsStrongEntityTag(std::string(value)));  // no dependence on what follows
  }
}

void CheckVersions(const std::vector<std::string_view>& lines) {
  auto line = [&](size_t index) -> std::string_view {
    return index < lines.size() ? lines[index] : std::string_view();
  };
  auto present = [&](size_t index) { return index < lines.size() && lines[index] != "-"; };

  RemoteFileInfo expected;
  expected.etag = std::string(line(1));
  expected.last_modified = Number<std::time_t>(line(2));
  expected.size = Number<uint64_t>(line(3)).value_or(0);

  http::ResponseIdentity got;
  if (present(4)) got.etag = std::string(line(4));
  if (present(5)) got.last_modified = Number<std::time_t>(line(5));
  if (present(6)) got.size = Number<uint64_t>(line(6));

  // The precondition: If-Range only with a strong tag, else the date, else nothing.
  const std::optional<std::string> precondition = http::RangePreconditionHeader(expected);
  if (http::IsStrongEntityTag(expected.etag)) {
    FUZZ_CHECK(precondition == "If-Range: " + expected.etag);
  } else if (expected.last_modified) {
    FUZZ_CHECK(precondition.has_value());
    FUZZ_CHECK(precondition->starts_with("If-Unmodified-Since: "));
    FUZZ_CHECK(precondition->ends_with(" GMT"));
  } else {
    FUZZ_CHECK(!precondition.has_value());
  }

  // Only a validator both sides know, and that differs, is evidence of a change.
  const bool size_differs = got.size && *got.size != expected.size;
  const bool etag_differs = got.etag && !expected.etag.empty() && *got.etag != expected.etag;
  const bool date_differs =
      got.last_modified && expected.last_modified && *got.last_modified != *expected.last_modified;
  const Status same = http::CheckSameVersion(expected, got);
  FUZZ_CHECK(same.ok() == !(size_differs || etag_differs || date_differs));
  if (!same.ok()) {
    FUZZ_CHECK(same.code() == ErrorCode::kRemoteChanged);
    FUZZ_CHECK(!same.message().empty());
  }

  // A response that repeats the version, or says nothing, is from the same version.
  http::ResponseIdentity echo;
  if (!expected.etag.empty()) echo.etag = expected.etag;
  echo.last_modified = expected.last_modified;
  echo.size = expected.size;
  FUZZ_CHECK(http::CheckSameVersion(expected, echo).ok());
  FUZZ_CHECK(http::CheckSameVersion(expected, http::ResponseIdentity{}).ok());
  FUZZ_CHECK(SameVersion(expected, expected));
  FUZZ_CHECK(DescribeVersion(expected).ends_with(" bytes"));
}

}  // namespace
}  // namespace rangefs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> lines =
      rangefs::fuzz::SplitLines(rangefs::fuzz::AsText(data, size));
  for (const std::string_view line : lines) rangefs::fuzz::CheckHeaderValue(line);
  rangefs::fuzz::CheckVersions(lines);
  return 0;
}
