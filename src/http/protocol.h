// Pure functions for the parts of HTTP/1.1 range requests (RFC 7233) that rangefs reads and
// writes itself. No I/O, no libcurl: everything here is unit-tested and fuzzable.
//
// Thread-safety: all functions are pure.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "rangefs/byte_range.h"
#include "rangefs/status.h"

namespace rangefs::http {

// "bytes=first-last[,first-last...]", the value of a Range request header.
// REQUIRES: ranges is not empty and every range has last >= first.
std::string FormatRangeHeaderValue(std::span<const ByteRange> ranges);

// A parsed Content-Range response header (RFC 7233 section 4.2):
//   "bytes 0-99/1000" -> range {0, 99}, complete_length 1000
//   "bytes 0-99/*"    -> range {0, 99}, no complete_length
//   "bytes */1000"    -> no range (unsatisfied-range, sent with 416), complete_length 1000
struct ContentRange {
  std::optional<ByteRange> range;
  std::optional<uint64_t> complete_length;
  friend bool operator==(const ContentRange&, const ContentRange&) = default;
};

// Parses a Content-Range header value. Rejects anything RFC 7233 does not allow: other units,
// last < first, last >= complete length, "*/*", signs, spaces inside numbers, numbers that
// overflow 64 bits, trailing garbage. Leading and trailing whitespace is ignored.
Result<ContentRange> ParseContentRange(std::string_view value);

// `value` without the optional whitespace (OWS: spaces and tabs, RFC 9110 section 5.6.3) at
// either end, as header values are compared.
std::string_view TrimOws(std::string_view value);

// True when a Content-Encoding value leaves the body as identity bytes (absent, empty or
// "identity"), so that range offsets refer to the bytes of the file itself.
bool IsIdentityEncoding(std::string_view content_encoding);

// Checks that a 206 answer's Content-Range contains `requested` (RFC 7233 lets a server send
// more than was asked; only the asked slice is then used) within a file of `file_size` bytes.
// A total of "*" is taken as CheckContentRangeMatches takes it: what it covers must then lie
// within `file_size`. The message says what differed, for the log.
Status CheckContentRangeCovers(const ContentRange& got, const ByteRange& requested,
                               uint64_t file_size);

// Checks one part of an answer to a multi-range request (a multipart part, or the one range of
// a single-part 206) against the ranges asked for: it must overlap at least one, and contain
// each one it overlaps. A server may coalesce asked ranges and the gaps between them into one
// part (RFC 7233 section 4.1), but a part that cuts an asked range, or holds only bytes
// nobody asked for, is a mislabelled or foreign part whose bytes cannot be trusted.
Status CheckPartCoversAskedRanges(const ByteRange& part, std::span<const ByteRange> asked);

// Checks that a 206 answer's Content-Range names exactly `requested` within a file of
// `file_size` bytes. A total of "*" ("bytes a-b/*": the server does not know the complete
// length, RFC 9110 section 14.4) is no contradiction: the size the probe found stands for it,
// so the named range must lie within `file_size`; the version is the validators' to tell. The
// message says what differed, for the log.
Status CheckContentRangeMatches(const ContentRange& got, const ByteRange& requested,
                                uint64_t file_size);

}  // namespace rangefs::http
