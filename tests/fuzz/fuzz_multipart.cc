// The multipart/byteranges parser (MultipartByterangesParser) and the boundary parameter of its
// Content-Type (ByterangesBoundary). Input: lines
//   1 a Content-Type value, or a bare boundary (used as is when line 1 is not a
//     multipart/byteranges Content-Type)
//   2 piece sizes: each byte b feeds (b % 64) + 1 bytes, cycling; an empty line feeds the
//     body whole
//   3... the body (the rest of the input, newlines included)
// Checks: no part gets more bytes than its Content-Range; an ok Finish means every part got
// exactly its length; errors are kProtocolViolation (kInvalidArgument for an invalid boundary,
// kTruncated from Finish) and stick; the pieces make no difference (the body fed whole gives
// the same parts, bytes and status). Then a round trip: parts cut from the body are built into
// a multipart body (nginx or Apache style, with or without preamble, padding, bare LF headers,
// extra headers, as the input's bytes choose) and must parse back to exactly those parts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../fakes/multipart_body.h"
#include "fuzz_check.h"
#include "http/multipart.h"

namespace rangefs::fuzz {
namespace {

struct Part {
  ByteRange range;
  std::optional<uint64_t> complete_length;  // none: "*"
  std::string data;
  bool operator==(const Part&) const = default;
};

struct Run {
  std::vector<Part> parts;
  Status status;  // the first error, else Finish's answer
};

http::MultipartByterangesParser::Callbacks Recorder(std::vector<Part>* parts) {
  http::MultipartByterangesParser::Callbacks callbacks;
  callbacks.on_part = [parts](const http::ContentRange& content_range) {
    FUZZ_CHECK(content_range.range.has_value());
    FUZZ_CHECK(content_range.range->last >= content_range.range->first);
    if (content_range.complete_length) {
      FUZZ_CHECK(content_range.range->last < *content_range.complete_length);
    }
    // A part starts only after the previous one got all its bytes.
    if (!parts->empty()) FUZZ_CHECK(parts->back().data.size() == parts->back().range.length());
    parts->push_back({*content_range.range, content_range.complete_length, {}});
    return Status::Ok();
  };
  callbacks.on_data = [parts](std::span<const std::byte> bytes) {
    FUZZ_CHECK(!bytes.empty());
    FUZZ_CHECK(!parts->empty());
    Part& part = parts->back();
    part.data.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    FUZZ_CHECK(part.data.size() <= part.range.length());
    return Status::Ok();
  };
  return callbacks;
}

std::vector<size_t> PieceSizes(std::string_view spec) {
  std::vector<size_t> sizes;
  for (const char c : spec) sizes.push_back(static_cast<unsigned char>(c) % 64 + 1);
  return sizes;
}

Run Parse(const std::string& boundary, std::string_view body, const std::vector<size_t>& sizes) {
  Run run;
  http::MultipartByterangesParser parser(boundary, Recorder(&run.parts));
  size_t next = 0;
  while (!body.empty()) {
    const size_t size = sizes.empty() ? body.size() : sizes[next++ % sizes.size()];
    const std::string_view piece = body.substr(0, size);
    body.remove_prefix(piece.size());
    const Status status = parser.Feed(piece);
    if (!status.ok()) {
      const bool bad_boundary = !http::IsValidMultipartBoundary(boundary);
      FUZZ_CHECK(status.code() ==
                 (bad_boundary ? ErrorCode::kInvalidArgument : ErrorCode::kProtocolViolation));
      FUZZ_CHECK(!status.message().empty());
      FUZZ_CHECK(!parser.complete());
      const size_t parts = run.parts.size();
      const Status again = parser.Feed(body);
      FUZZ_CHECK(again.code() == status.code() && again.message() == status.message());
      const Status finish = parser.Finish();
      FUZZ_CHECK(finish.code() == status.code() && finish.message() == status.message());
      FUZZ_CHECK(run.parts.size() == parts);
      run.status = status;
      return run;
    }
  }
  run.status = parser.Finish();
  if (run.status.ok()) {
    FUZZ_CHECK(parser.complete());
    FUZZ_CHECK(!run.parts.empty());
    FUZZ_CHECK(parser.part_count() == run.parts.size());
    // The totals given ("*" gives none) are one.
    std::optional<uint64_t> complete_length;
    for (const Part& part : run.parts) {
      FUZZ_CHECK(part.data.size() == part.range.length());
      if (!part.complete_length) continue;
      if (!complete_length) complete_length = part.complete_length;
      FUZZ_CHECK(part.complete_length == complete_length);
    }
  } else {
    FUZZ_CHECK(!parser.complete());
    FUZZ_CHECK(run.status.code() == (http::IsValidMultipartBoundary(boundary)
                                         ? ErrorCode::kTruncated
                                         : ErrorCode::kInvalidArgument));
    const Status again = parser.Finish();
    FUZZ_CHECK(again.code() == run.status.code() && again.message() == run.status.message());
  }
  return run;
}

void CheckSame(const Run& a, const Run& b) {
  FUZZ_CHECK(a.status.code() == b.status.code());
  FUZZ_CHECK(a.status.message() == b.status.message());
  FUZZ_CHECK(a.parts == b.parts);
}

// ByterangesBoundary's answer is a valid boundary, and quoting it gives it back.
void CheckBoundary(std::string_view content_type) {
  const std::optional<std::string> boundary = http::ByterangesBoundary(content_type);
  if (!boundary) return;
  FUZZ_CHECK(http::IsValidMultipartBoundary(*boundary));
  std::string quoted = "multipart/byteranges; boundary=\"";
  for (const char c : *boundary) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += "\"";
  FUZZ_CHECK(http::ByterangesBoundary(quoted) == boundary);
  FUZZ_CHECK(http::ByterangesBoundary("MULTIPART/BYTERANGES; charset=x; BOUNDARY=\"" +
                                      quoted.substr(quoted.find('"') + 1)) == boundary);
  FUZZ_CHECK(!http::ByterangesBoundary(quoted + "; boundary=x").has_value());
}

// Parts cut from `data` (at least one, each at least one byte), at increasing or decreasing
// offsets chosen by the piece sizes.
std::vector<fakes::MultipartPart> CutParts(std::string_view data, const std::vector<size_t>& sizes,
                                           bool reverse) {
  if (data.empty()) data = "x";
  std::vector<fakes::MultipartPart> parts;
  uint64_t offset = sizes.empty() ? 0 : sizes.front() * 1000;
  size_t next = 0;
  while (!data.empty()) {
    size_t length = sizes.empty() ? data.size() : sizes[next++ % sizes.size()];
    if (parts.size() == 15) length = data.size();  // at most 16 parts
    const std::string_view slice = data.substr(0, length);
    data.remove_prefix(slice.size());
    parts.push_back({{offset, offset + slice.size() - 1}, 0, std::string(slice)});
    offset += slice.size() + (sizes.empty() ? 0 : sizes[next % sizes.size()] - 1);
  }
  // Some parts say "*" (the server does not know the total), as the piece sizes choose.
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool unknown = !sizes.empty() && sizes[(i + 1) % sizes.size()] % 3 == 0;
    parts[i].complete_length = unknown ? std::nullopt : std::optional<uint64_t>(offset + 7);
  }
  if (reverse) std::ranges::reverse(parts);
  return parts;
}

void CheckRoundTrip(const std::string& boundary, std::string_view data,
                    const std::vector<size_t>& sizes) {
  const unsigned char choice = data.empty() ? 0 : static_cast<unsigned char>(data.back());
  const std::string used = http::IsValidMultipartBoundary(boundary) ? boundary : "fuzz";
  const std::vector<fakes::MultipartPart> parts = CutParts(data, sizes, (choice & 1) != 0);
  fakes::MultipartStyle style = (choice & 2) != 0 ? fakes::ApacheStyle() : fakes::NginxStyle();
  if ((choice & 4) != 0) style.preamble = "preamble\r\n-- not a delimiter\r\n";
  if ((choice & 8) != 0) style.padding = " \t";
  if ((choice & 16) != 0) style.line_end = "\n";
  if ((choice & 32) != 0) style.part_content_type.reset();
  if ((choice & 64) != 0) style.extra_headers = {"X-Extra: --" + used, "content-RANGE2: x"};
  if ((choice & 128) != 0) style.epilogue = "\r\n--" + used + "\r\nContent-Range: junk\r\n";
  const std::string body = fakes::BuildByterangesBody(used, parts, style);

  std::vector<Part> expected;
  for (const fakes::MultipartPart& part : parts) {
    expected.push_back({part.range, part.complete_length, part.data});
  }
  const Run chunked = Parse(used, body, sizes);
  CheckSame(chunked, Parse(used, body, {}));
  // A delimiter inside a part's data is refused (RFC 2046), before any of its bytes go out.
  const std::string delimiter = "\r\n--" + used;
  const auto holds_delimiter = [&](const fakes::MultipartPart& part) {
    return part.data.find(delimiter) != std::string::npos;
  };
  if (const auto first_bad = std::ranges::find_if(parts, holds_delimiter);
      first_bad != parts.end()) {
    FUZZ_CHECK(chunked.status.code() == ErrorCode::kProtocolViolation);
    const size_t index = static_cast<size_t>(first_bad - parts.begin());
    FUZZ_CHECK(chunked.parts.size() == index + 1);
    FUZZ_CHECK(chunked.parts[index].data ==
               first_bad->data.substr(0, first_bad->data.find(delimiter)));
    return;
  }
  FUZZ_CHECK(chunked.status.ok());
  FUZZ_CHECK(chunked.parts == expected);

  // Cut short anywhere before its last delimiter, the same body is truncated, never wrong.
  const size_t cut = sizes.empty() ? body.size() / 2 : (sizes.front() * 7919) % body.size();
  if (cut < body.rfind("--" + used + "--")) {
    const Run truncated = Parse(used, std::string_view(body).substr(0, cut), sizes);
    FUZZ_CHECK(truncated.status.code() == ErrorCode::kTruncated);
    FUZZ_CHECK(truncated.parts.size() <= expected.size());
    for (size_t i = 0; i < truncated.parts.size(); ++i) {
      FUZZ_CHECK(truncated.parts[i].range == expected[i].range);
      FUZZ_CHECK(expected[i].data.starts_with(truncated.parts[i].data));
    }
  }
}

}  // namespace
}  // namespace rangefs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rangefs;
  std::string_view text = fuzz::AsText(data, size);
  const size_t first_newline = text.find('\n');
  const std::string_view first_line = text.substr(0, first_newline);
  text.remove_prefix(first_newline == std::string_view::npos ? text.size() : first_newline + 1);
  const size_t second_newline = text.find('\n');
  const std::string_view second_line = text.substr(0, second_newline);
  text.remove_prefix(second_newline == std::string_view::npos ? text.size() : second_newline + 1);
  const std::string_view body = text;

  fuzz::CheckBoundary(first_line);
  const std::string boundary =
      http::ByterangesBoundary(first_line).value_or(std::string(first_line));
  const std::vector<size_t> sizes = fuzz::PieceSizes(second_line);

  const fuzz::Run chunked = fuzz::Parse(boundary, body, sizes);
  fuzz::CheckSame(chunked, fuzz::Parse(boundary, body, {}));
  fuzz::CheckRoundTrip(boundary, body, sizes);
  return 0;
}
