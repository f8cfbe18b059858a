// The body of a multi-range answer: a 206 whose Content-Type is multipart/byteranges (RFC 7233
// section 4.1 and appendix A, with the multipart syntax of RFC 2046 section 5.1.1). Pure: no
// I/O, no libcurl; unit-tested and fuzzed (tests/fuzz/fuzz_multipart.cc).
//
// The body as nginx and Apache send it (Apache spells the part headers "Content-type" and
// "Content-range"; header names are case-insensitive):
//
//   CRLF
//   "--" boundary CRLF
//   "Content-Type: application/zip" CRLF
//   "Content-Range: bytes 0-99/8000" CRLF
//   CRLF
//   ...100 bytes...
//   CRLF "--" boundary CRLF
//   "Content-Type: application/zip" CRLF
//   "Content-Range: bytes 7000-7999/8000" CRLF
//   CRLF
//   ...1000 bytes...
//   CRLF "--" boundary "--" CRLF
//
// Thread-safety: ByterangesBoundary and IsValidMultipartBoundary are pure. A parser is a
// plain object: one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/protocol.h"
#include "rangefs/status.h"

namespace rangefs::http {

// RFC 2046 section 5.1.1: 1 to 70 characters of DIGIT / ALPHA / ' ( ) + _ , - . / : = ? and
// space, not ending with a space.
inline constexpr size_t kMaxMultipartBoundaryLength = 70;
bool IsValidMultipartBoundary(std::string_view boundary);

// The boundary parameter of a Content-Type value "multipart/byteranges; boundary=...", or
// nullopt when the value is not multipart/byteranges or has no valid boundary.
// - The media type is compared case-insensitively, and so are parameter names. Other
//   parameters may come before or after the boundary and are ignored.
// - The boundary may be a token or a quoted-string (quoted-pairs are unescaped); it must then
//   satisfy IsValidMultipartBoundary (a token form never holds a space or most of the
//   punctuation: those need quotes).
// - Syntax per RFC 9110 section 5.6.6: whitespace around the whole value and around ';' is
//   fine, an empty parameter (";;", a trailing ';') is skipped, but no whitespace is allowed
//   around '='. A malformed parameter anywhere, or two boundary parameters, is nullopt: the
//   value cannot be trusted.
// - multipart/x-byteranges (the pre-RFC 2068 draft that Apache sends only to clients sending
//   Request-Range or claiming to be MSIE 3) is not accepted; rangefs sends neither.
std::optional<std::string> ByterangesBoundary(std::string_view content_type);

// Whether a Content-Type value names a multipart media type (multipart/anything, compared
// case-insensitively), whatever its parameters: with ByterangesBoundary, tells an answer whose
// multipart framing cannot be parsed from one that has none.
bool IsMultipartMediaType(std::string_view content_type);

// A streaming parser of a multipart/byteranges body. Feed it the body in pieces of any size
// (down to one byte at a time); it calls on_part when a part's headers are complete and then
// on_data with that part's bytes, in order, mostly straight out of the pieces it is fed. The
// length of each part comes from its Content-Range; after exactly that many bytes the parser
// requires CRLF "--" boundary, and anything else there is an error. A delimiter inside a
// part's bytes is an error too (RFC 2046 section 5.1.1: a server picks a boundary that does
// not occur in the parts): it is how a part shorter than its Content-Range shows, and without
// the check the delimiter and the next part's headers would pass as its last bytes. So the
// last (delimiter length - 1) bytes a part has received are held back (copied, at most 73
// bytes) until the bytes after them show they do not begin a delimiter, or, at the part's
// end, until its delimiter has matched. On an error, the bytes before it were delivered and
// the held ones are dropped, the same however the body was cut into pieces.
//
// Memory is bounded whatever the input: at most one header line (kMaxHeaderLineBytes, its CR
// counted, its LF not) is buffered; a part's headers may total kMaxPartHeaderBytes (line ends
// included), and the first delimiter "--" boundary must end within the first kMaxPreambleBytes of
// the body (what comes before it is the preamble, e.g. nginx's leading CRLF); over a bound is an
// error. The epilogue (anything after the close delimiter "--" boundary "--", on its line or after)
// is discarded unread.
//
// Strictness:
// - Each part must have exactly one Content-Range, as ParseContentRange accepts it, naming a
//   range ("bytes a-b/N", or "bytes a-b/*" when the server does not know the complete length,
//   RFC 9110 section 14.4; not "bytes */N"), and the parts that give a complete length must
//   all give the same one (they are slices of one representation). Whether a part lies within
//   the file is the caller's check (in on_part), which knows the file's size.
//   Other part headers (Content-Type, anything else) are checked for syntax only: a token
//   name, ':', and no control characters but tab. Obsolete line folding is an error.
// - Line endings: the CRLF that precedes every delimiter after a part body must be exactly
//   CRLF. That is where a server that miscounted its bytes shows: accepting a bare LF there
//   would let a body one byte short pass, its last "byte" being the delimiter's CR. Lines that
//   carry no byte counts (preamble, the rest of a delimiter line, part headers) may end in a
//   bare LF, which costs no safety: nginx and Apache send CRLF anyway.
// - After a delimiter: optional spaces and tabs (transport padding), then the line end. A
//   delimiter line with anything else after the boundary ("--boundaryX") is an error, in the
//   preamble too (RFC 2046: no line of the body may start with a delimiter that is not one).
// - At least one part: a close delimiter straight after the preamble is an error. Parts may
//   come in any order and may overlap: what was asked is the caller's check (in on_part).
//
// Errors: Feed returns kProtocolViolation with a message naming the part and what was wrong,
// or, when a callback returned a non-ok Status, that Status unchanged (the callback chooses
// the code, e.g. kProtocolViolation for a part nobody asked for, kInternal for a reader that
// went away). A parser built with an invalid boundary answers kInvalidArgument. The first
// error sticks: every later Feed and Finish return it, and no callback is called again.
class MultipartByterangesParser {
 public:
  static constexpr size_t kMaxHeaderLineBytes = 8 * 1024;
  static constexpr size_t kMaxPartHeaderBytes = 64 * 1024;
  static constexpr size_t kMaxPreambleBytes = 64 * 1024;

  struct Callbacks {
    // A part begins. `content_range` has a range, and a complete length unless the part said
    // "*". An empty function accepts every part.
    std::function<Status(const ContentRange& content_range)> on_part;
    // The next bytes of the current part's body, never empty, never more in total than the
    // part's range length. The span points into the piece being fed and is valid only during
    // the call. An empty function discards the bytes.
    std::function<Status(std::span<const std::byte> bytes)> on_data;
  };

  MultipartByterangesParser(std::string boundary, Callbacks callbacks);

  // Parses the next piece of the body. Ok, or the first error (see above).
  Status Feed(std::span<const std::byte> data);
  Status Feed(std::string_view data) { return Feed(std::as_bytes(std::span(data))); }

  // The body ended. Ok only when the close delimiter was seen (which implies that every part
  // had exactly its Content-Range length). A body that stopped short (in the preamble, in a
  // part's headers or bytes, or before the close delimiter) is kTruncated, as a short
  // single-range body is: the bytes delivered so far are good, and the rest may come from
  // another request. The result sticks like an error.
  Status Finish();

  // Parts whose headers were accepted so far (on_part calls that returned ok).
  size_t part_count() const { return part_count_; }
  // Whether the close delimiter was seen: the body is complete, the rest is epilogue.
  bool complete() const { return state_ == State::kEpilogue; }

 private:
  enum class State {
    kPreamble,       // before the first delimiter; looking for "--" boundary at a line start
    kDelimiterLine,  // after "--" boundary: "--" (close) or padding and the line end
    kHeaders,        // a part's header lines, up to the empty line
    kBody,           // the part's bytes, passed through
    kDelimiter,      // right after a part's bytes: CRLF "--" boundary, byte for byte
    kEpilogue,       // after the close delimiter: everything is discarded
    kFailed,         // error_ holds the answer
  };

  Status Step(char c);
  Status StepPreamble(char c);
  Status StepDelimiterLine(char c);
  Status StepHeaders(char c);
  Status StepDelimiter(char c);
  Status HeaderLine(std::string_view line);
  // A part's body bytes: checked for a delimiter, delivered but for what is held back.
  Status BodyBytes(std::span<const std::byte> bytes);
  Status Deliver(std::span<const std::byte> bytes);
  Status EndOfHeaders();
  Status Fail(Status status);
  // "part 2 (bytes 0-99/8000)" or "part 2" before its Content-Range is known.
  std::string PartName() const;

  std::string boundary_;
  std::string delimiter_;  // CRLF "--" boundary; the first delimiter may lack the CRLF
  Callbacks callbacks_;
  State state_ = State::kPreamble;
  Status error_;

  // kPreamble: bytes of "--" boundary matched on this line (npos: this line is not one).
  // kDelimiter: bytes of delimiter_ matched.
  size_t matched_ = 0;
  uint64_t preamble_bytes_ = 0;

  // kDelimiterLine.
  size_t padding_bytes_ = 0;
  bool saw_dash_ = false;
  bool saw_cr_ = false;

  // kHeaders.
  std::string line_;
  size_t header_bytes_ = 0;
  std::optional<ContentRange> part_range_;

  // kBody, and kDelimiter for held_.
  uint64_t part_length_ = 0;
  uint64_t remaining_ = 0;
  std::string held_;  // the part's last bytes, not yet delivered: at most delimiter_.size() - 1

  size_t part_count_ = 0;
  std::optional<uint64_t> complete_length_;  // the first one a part gave; the others must agree
};

}  // namespace rangefs::http
