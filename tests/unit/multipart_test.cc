#include "http/multipart.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fakes/multipart_body.h"
#include "fakes/printers.h"

namespace rangefs::http {
namespace {

using Parser = MultipartByterangesParser;

// ---------------------------------------------------------------------------------------------
// What a parser delivered, and how to drive it.

// One part as the callbacks saw it: its Content-Range and the concatenation of its bytes.
struct Delivered {
  uint64_t first = 0;
  uint64_t last = 0;
  std::optional<uint64_t> complete_length;  // none: "*"
  std::string data;
  friend bool operator==(const Delivered&, const Delivered&) = default;
};

void PrintTo(const Delivered& part, std::ostream* os) {
  *os << "{bytes " << part.first << "-" << part.last << "/"
      << (part.complete_length ? std::to_string(*part.complete_length) : "*") << ": \"";
  for (const char c : part.data) {
    if (c == '\r') {
      *os << "\\r";
    } else if (c == '\n') {
      *os << "\\n";
    } else {
      *os << c;
    }
  }
  *os << "\"}";
}

std::string AsString(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Callbacks that record every call into `parts`; data before a part is a test failure.
Parser::Callbacks Recorder(std::vector<Delivered>* parts) {
  Parser::Callbacks callbacks;
  callbacks.on_part = [parts](const ContentRange& content_range) {
    EXPECT_TRUE(content_range.range);
    if (!content_range.range) return Status::Ok();
    parts->push_back(
        {content_range.range->first, content_range.range->last, content_range.complete_length, ""});
    return Status::Ok();
  };
  callbacks.on_data = [parts](std::span<const std::byte> bytes) {
    EXPECT_FALSE(bytes.empty());
    if (parts->empty()) {
      ADD_FAILURE() << "on_data before any on_part";
      return Status::Ok();
    }
    Delivered& part = parts->back();
    part.data += AsString(bytes);
    EXPECT_LE(part.data.size(), part.last - part.first + 1) << "more bytes than the range";
    return Status::Ok();
  };
  return callbacks;
}

struct Outcome {
  std::vector<Delivered> parts;
  Status status;  // the first error, else what Finish said
  bool failed_in_feed = false;
};

// Feeds `body` in pieces of the given sizes (the last piece takes whatever is left), then
// finishes. Checks that an error sticks.
Outcome Parse(std::string_view boundary, std::string_view body,
              const std::vector<size_t>& piece_sizes) {
  Outcome outcome;
  Parser parser{std::string(boundary), Recorder(&outcome.parts)};
  std::string_view rest = body;
  for (size_t i = 0; !rest.empty(); ++i) {
    const size_t size = i < piece_sizes.size() ? piece_sizes[i] : rest.size();
    // Each piece in its own buffer, so a parser that kept a pointer would read freed memory
    // under ASan.
    const std::string piece(rest.substr(0, size));
    rest.remove_prefix(piece.size());
    Status status = parser.Feed(piece);
    if (!status.ok()) {
      outcome.status = status;
      outcome.failed_in_feed = true;
      const size_t delivered = outcome.parts.size();
      const Status again = parser.Feed(rest.empty() ? std::string_view("x") : rest);
      EXPECT_EQ(again.code(), status.code());
      EXPECT_EQ(again.message(), status.message());
      const Status finish = parser.Finish();
      EXPECT_EQ(finish.code(), status.code());
      EXPECT_EQ(finish.message(), status.message());
      EXPECT_EQ(outcome.parts.size(), delivered) << "a callback after the error";
      EXPECT_FALSE(parser.complete());
      return outcome;
    }
  }
  outcome.status = parser.Finish();
  EXPECT_EQ(parser.complete(), outcome.status.ok());
  if (outcome.status.ok()) {
    EXPECT_EQ(parser.part_count(), outcome.parts.size());
  } else {
    const Status again = parser.Finish();
    EXPECT_EQ(again.code(), outcome.status.code());
    EXPECT_EQ(again.message(), outcome.status.message());
  }
  return outcome;
}

// Ways to cut a body: whole, one byte at a time, odd-sized pieces, and in two at every point
// (at about 40 evenly spread points for large bodies).
struct Splitting {
  std::string name;
  std::vector<size_t> piece_sizes;
};

std::vector<Splitting> Splittings(size_t size) {
  std::vector<Splitting> splittings = {{"whole", {size}},
                                       {"bytewise", std::vector<size_t>(size, 1)},
                                       {"sevens", std::vector<size_t>(size / 7 + 1, 7)}};
  const size_t step = size <= 1024 ? 1 : size / 40;
  for (size_t at = 0; at <= size; at += step) {
    splittings.push_back({"split at " + std::to_string(at), {at, size - at}});
  }
  return splittings;
}

std::string Repeat(std::string_view text, size_t times) {
  std::string out;
  for (size_t i = 0; i < times; ++i) out += text;
  return out;
}

// Header lines ("X-Filler: fff...", at most 8000 bytes each) that take exactly `total` bytes
// with their CRLFs. REQUIRES: total >= 16.
std::vector<std::string> FillerHeaders(size_t total) {
  std::vector<std::string> lines;
  while (total > 0) {
    size_t line = std::min<size_t>(total, 8000);
    if (total - line < 16 && total != line) line = total - 16;  // leave room for a last line
    lines.push_back("X-Filler: " + std::string(line - 12, 'f'));
    total -= line;
  }
  return lines;
}

// The bytes of a part's headers that BuildByterangesBody writes for `range` besides the
// extra headers, line ends and the final empty line included.
size_t FixedHeaderBytes(const fakes::MultipartPart& part) {
  const fakes::MultipartStyle style;
  return style.content_type_name.size() + 2 + style.part_content_type->size() + 2 +
         style.content_range_name.size() + 2 + fakes::ContentRangeValue(part).size() + 2 + 2;
}

// ---------------------------------------------------------------------------------------------
// IsValidMultipartBoundary and ByterangesBoundary

TEST(MultipartBoundaryTest, ValidityFollowsRfc2046) {
  const std::string seventy(70, 'b');
  struct Case {
    std::string boundary;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"00000000000000000001", true},
      {"3d6b6a416f9b5", true},
      {"a", true},
      {seventy, true},
      {seventy + "b", false},
      {"", false},
      {"simple boundary", true},
      {" leading space", true},
      {"trailing space ", false},
      {" ", false},
      {"'()+_,-./:=?", true},
      {"-", true},
      {"a\"b", false},
      {"a;b", false},
      {"a*b", false},
      {"a\tb", false},
      {"a\r\nb", false},
      {std::string("a\0b", 3), false},
      {"\xc3\xa9", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsValidMultipartBoundary(c.boundary), c.valid) << "\"" << c.boundary << "\"";
  }
}

TEST(ByterangesBoundaryTest, AcceptsWhatServersSend) {
  const std::string seventy(70, '7');
  struct Case {
    std::string content_type;
    std::string boundary;
  };
  const std::vector<Case> cases = {
      // nginx (a zero-padded counter) and Apache (hexadecimal).
      {"multipart/byteranges; boundary=00000000000000000001", "00000000000000000001"},
      {"multipart/byteranges; boundary=3d6b6a416f9b5", "3d6b6a416f9b5"},
      // Case-insensitive type and parameter name; the boundary's case is kept.
      {"Multipart/ByteRanges; BOUNDARY=AbC", "AbC"},
      {"multipart/byteranges;boundary=abc", "abc"},
      // Whitespace around the value and around ';'.
      {"  multipart/byteranges \t; boundary=abc ;charset=utf-8  ", "abc"},
      // Other parameters, before and after.
      {"multipart/byteranges; charset=utf-8; boundary=abc", "abc"},
      {"multipart/byteranges; boundary=abc; q=\"x y\"", "abc"},
      // A quoted parameter mentioning a boundary is not one.
      {"multipart/byteranges; note=\"x; boundary=zzz\"; boundary=abc", "abc"},
      // Empty parameters (RFC 9110 allows them).
      {"multipart/byteranges; boundary=abc;", "abc"},
      {"multipart/byteranges;; boundary=abc", "abc"},
      // Quoted forms: spaces and punctuation a token cannot hold, quoted-pairs unescaped.
      {"multipart/byteranges; boundary=\"simple boundary\"", "simple boundary"},
      {"multipart/byteranges; boundary=\"gc0pJq0M:08jU534c0p\"", "gc0pJq0M:08jU534c0p"},
      {"multipart/byteranges; boundary=\"'()+_,-./:=?\"", "'()+_,-./:=?"},
      {"multipart/byteranges; boundary=\"a\\-b\\ c\"", "a-b c"},
      {"multipart/byteranges; boundary=\"abc\"", "abc"},
      // RFC 2046's limit.
      {"multipart/byteranges; boundary=" + seventy, seventy},
      {"multipart/byteranges; boundary=\"" + seventy + "\"", seventy},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ByterangesBoundary(c.content_type), std::optional<std::string>(c.boundary))
        << c.content_type;
  }
}

TEST(IsMultipartMediaTypeTest, AnyMultipartTypeWhateverItsParameters) {
  for (const char* yes : {"multipart/byteranges", "  Multipart/Byteranges; boundary=x",
                          "MULTIPART/mixed", "multipart/byteranges; boundary="}) {
    EXPECT_TRUE(http::IsMultipartMediaType(yes)) << yes;
  }
  for (const char* no : {"", "multipart/", "application/octet-stream", "text/multipart/x",
                         "multipartx/byteranges"}) {
    EXPECT_FALSE(http::IsMultipartMediaType(no)) << no;
  }
}

TEST(ByterangesBoundaryTest, RejectsOtherTypesAndBadBoundaries) {
  const std::string seventy_one(71, '7');
  const std::vector<std::string> cases = {
      "",
      "multipart/byteranges",
      "multipart/byteranges;",
      "multipart/byteranges; charset=utf-8",
      // Other media types, including the pre-standard x-byteranges.
      "text/plain; boundary=abc",
      "multipart/mixed; boundary=abc",
      "multipart/x-byteranges; boundary=abc",
      "multipart/byterangesx; boundary=abc",
      "multipart / byteranges; boundary=abc",
      "multipart/byteranges boundary=abc",
      // Empty, too long, invalid characters.
      "multipart/byteranges; boundary=",
      "multipart/byteranges; boundary=\"\"",
      "multipart/byteranges; boundary=" + seventy_one,
      "multipart/byteranges; boundary=\"" + seventy_one + "\"",
      "multipart/byteranges; boundary=\"abc \"",
      "multipart/byteranges; boundary=a*b",
      "multipart/byteranges; boundary=\"a\\\"b\"",
      "multipart/byteranges; boundary=\"a\x01"
      "b\"",
      std::string("multipart/byteranges; boundary=\"a\0b\"", 36),
      // Malformed parameters.
      "multipart/byteranges; boundary = abc",
      "multipart/byteranges; boundary =abc",
      "multipart/byteranges; boundary= abc",
      "multipart/byteranges; boundary=abc def",
      "multipart/byteranges; boundary=\"abc",
      "multipart/byteranges; boundary=\"abc\\",
      "multipart/byteranges; boundary=\"abc\"def",
      "multipart/byteranges; boundary=abc, def",
      "multipart/byteranges; charset; boundary=abc",
      "multipart/byteranges; =abc",
      "multipart/byteranges; boundary=abc; charset=\"utf-8",
      "multipart/byteranges; q=\"a\x01\"; boundary=abc",
      // Two boundaries, even equal ones.
      "multipart/byteranges; boundary=abc; boundary=def",
      "multipart/byteranges; boundary=abc; Boundary=abc",
  };
  for (const std::string& content_type : cases) {
    EXPECT_EQ(ByterangesBoundary(content_type), std::nullopt) << content_type;
  }
}

// ---------------------------------------------------------------------------------------------
// Valid bodies, fed whole, byte by byte, in odd pieces and split at every point.

struct ValidCase {
  std::string name;
  std::string boundary;
  std::string body;
  std::vector<Delivered> parts;
};

constexpr std::string_view kNginx = "00000000000000000001";
constexpr std::string_view kApache = "3d6b6a416f9b5";
const std::string kAlphabet = "abcdefghijklmnopqrstuvwxyz";

std::vector<ValidCase> ValidCases() {
  std::vector<ValidCase> cases;
  const std::string n(kNginx);
  const std::string a(kApache);

  // clang-format off
  // Byte for byte what nginx's range filter sends (its boundary is a zero-padded counter).
  cases.push_back({"nginx, two parts", n,
                   "\r\n"
                   "--" + n + "\r\n"
                   "Content-Type: text/plain\r\n"
                   "Content-Range: bytes 0-4/26\r\n"
                   "\r\n"
                   "abcde"
                   "\r\n"
                   "--" + n + "\r\n"
                   "Content-Type: text/plain\r\n"
                   "Content-Range: bytes 20-25/26\r\n"
                   "\r\n"
                   "uvwxyz"
                   "\r\n"
                   "--" + n + "--\r\n",
                   {{0, 4, 26, "abcde"}, {20, 25, 26, "uvwxyz"}}});

  cases.push_back({"nginx, charset in the part's type", n,
                   "\r\n"
                   "--" + n + "\r\n"
                   "Content-Type: text/html; charset=utf-8\r\n"
                   "Content-Range: bytes 1-2/26\r\n"
                   "\r\n"
                   "bc"
                   "\r\n"
                   "--" + n + "\r\n"
                   "Content-Type: text/html; charset=utf-8\r\n"
                   "Content-Range: bytes 24-25/26\r\n"
                   "\r\n"
                   "yz"
                   "\r\n"
                   "--" + n + "--\r\n",
                   {{1, 2, 26, "bc"}, {24, 25, 26, "yz"}}});

  cases.push_back({"nginx, no type known", n,
                   "\r\n"
                   "--" + n + "\r\n"
                   "Content-Range: bytes 0-0/26\r\n"
                   "\r\n"
                   "a"
                   "\r\n"
                   "--" + n + "\r\n"
                   "Content-Range: bytes 25-25/26\r\n"
                   "\r\n"
                   "z"
                   "\r\n"
                   "--" + n + "--\r\n",
                   {{0, 0, 26, "a"}, {25, 25, 26, "z"}}});

  // Apache httpd's byterange filter: the same layout, lower-case header names.
  cases.push_back({"Apache, lower-case header names", a,
                   "\r\n"
                   "--" + a + "\r\n"
                   "Content-type: application/zip\r\n"
                   "Content-range: bytes 0-3/26\r\n"
                   "\r\n"
                   "abcd"
                   "\r\n"
                   "--" + a + "\r\n"
                   "Content-type: application/zip\r\n"
                   "Content-range: bytes 10-12/26\r\n"
                   "\r\n"
                   "klm"
                   "\r\n"
                   "--" + a + "--\r\n",
                   {{0, 3, 26, "abcd"}, {10, 12, 26, "klm"}}});
  // clang-format on

  // RFC 7233 appendix A's example: no preamble, the first delimiter opens the body.
  cases.push_back({"no preamble",
                   "THIS_STRING_SEPARATES",
                   "--THIS_STRING_SEPARATES\r\n"
                   "Content-type: application/pdf\r\n"
                   "Content-range: bytes 500-503/8000\r\n"
                   "\r\n"
                   "PDF1"
                   "\r\n--THIS_STRING_SEPARATES\r\n"
                   "Content-type: application/pdf\r\n"
                   "Content-range: bytes 7000-7004/8000\r\n"
                   "\r\n"
                   "PDF22"
                   "\r\n--THIS_STRING_SEPARATES--\r\n",
                   {{500, 503, 8000, "PDF1"}, {7000, 7004, 8000, "PDF22"}}});

  cases.push_back({"a single part",
                   n,
                   fakes::BuildByterangesBody(n, {{{3, 9}, 26, "defghij"}}),
                   {{3, 9, 26, "defghij"}}});

  cases.push_back(
      {"parts out of order and overlapping",
       a,
       fakes::BuildByterangesBody(a,
                                  {{{20, 25}, 26, "uvwxyz"},
                                   {{0, 2}, 26, "abc"},
                                   {{1, 3}, 26, "bcd"},
                                   {{0, 2}, 26, "abc"}},
                                  fakes::ApacheStyle()),
       {{20, 25, 26, "uvwxyz"}, {0, 2, 26, "abc"}, {1, 3, 26, "bcd"}, {0, 2, 26, "abc"}}});

  cases.push_back(
      {"three one-byte parts",
       "b",
       fakes::BuildByterangesBody("b", {{{0, 0}, 3, "x"}, {{1, 1}, 3, "-"}, {{2, 2}, 3, "\r"}}),
       {{0, 0, 3, "x"}, {1, 1, 3, "-"}, {2, 2, 3, "\r"}}});

  // RFC 9110 section 14.4: a server that does not know the complete length says "*"; the
  // totals that are given must still agree (the caller checks the parts against the file).
  cases.push_back(
      {"unknown complete length",
       n,
       fakes::BuildByterangesBody(n, {{{0, 1}, std::nullopt, "ab"}, {{4, 5}, std::nullopt, "ef"}}),
       {{0, 1, std::nullopt, "ab"}, {4, 5, std::nullopt, "ef"}}});
  cases.push_back(
      {"known and unknown complete lengths",
       n,
       fakes::BuildByterangesBody(
           n, {{{0, 1}, std::nullopt, "ab"}, {{4, 5}, 26, "ef"}, {{8, 9}, std::nullopt, "ij"}}),
       {{0, 1, std::nullopt, "ab"}, {4, 5, 26, "ef"}, {8, 9, std::nullopt, "ij"}}});

  // Lengths are known: what merely looks like a delimiter inside a part's bytes is data.
  const std::string near_delimiters = "\r\n-" + n + "\r\n--" + n.substr(0, n.size() - 1) +
                                      "\r\n--" + n.substr(1) + "--" + n + "\n--" + n;
  cases.push_back(
      {"near-delimiters inside the part bodies",
       n,
       fakes::BuildByterangesBody(n, {{{0, near_delimiters.size() - 1}, 1000, near_delimiters},
                                      {{500, 501}, 1000, "\r\n"}}),
       {{0, near_delimiters.size() - 1, 1000, near_delimiters}, {500, 501, 1000, "\r\n"}}});

  const std::string binary("\0\xff\r\n\x80--\n\0", 9);
  cases.push_back({"binary bytes",
                   n,
                   fakes::BuildByterangesBody(n, {{{100, 108}, 200, binary}}),
                   {{100, 108, 200, binary}}});

  // Boundaries with spaces and punctuation (sent quoted in the Content-Type).
  const std::string spaced = "simple boundary: (a+b), 'ok'?=/.";
  cases.push_back({"boundary with spaces and punctuation",
                   spaced,
                   fakes::BuildByterangesBody(spaced, {{{0, 1}, 26, "ab"}, {{4, 5}, 26, "ef"}}),
                   {{0, 1, 26, "ab"}, {4, 5, 26, "ef"}}});

  const std::string seventy(70, 'q');
  cases.push_back({"boundary of 70 characters",
                   seventy,
                   fakes::BuildByterangesBody(seventy, {{{0, 1}, 26, "ab"}}),
                   {{0, 1, 26, "ab"}}});

  cases.push_back({"boundary of dashes",
                   "--",
                   fakes::BuildByterangesBody("--", {{{0, 1}, 26, "ab"}, {{2, 3}, 26, "cd"}}),
                   {{0, 1, 26, "ab"}, {2, 3, 26, "cd"}}});

  // A preamble of text lines, one of them almost a delimiter.
  fakes::MultipartStyle preamble;
  preamble.preamble = "This is a preamble.\r\n-- " + n + "\r\n-" + n + "\r\n\r\n\r\n";
  cases.push_back({"text preamble",
                   n,
                   fakes::BuildByterangesBody(n, {{{0, 1}, 26, "ab"}}, preamble),
                   {{0, 1, 26, "ab"}}});

  fakes::MultipartStyle padding;
  padding.padding = " \t ";
  cases.push_back({"transport padding after delimiters",
                   n,
                   fakes::BuildByterangesBody(n, {{{0, 1}, 26, "ab"}, {{2, 3}, 26, "cd"}}, padding),
                   {{0, 1, 26, "ab"}, {2, 3, 26, "cd"}}});

  fakes::MultipartStyle no_epilogue;
  no_epilogue.epilogue = "";
  cases.push_back({"close delimiter ends the body",
                   n,
                   fakes::BuildByterangesBody(n, {{{0, 1}, 26, "ab"}}, no_epilogue),
                   {{0, 1, 26, "ab"}}});

  // The epilogue is discarded, however it looks.
  fakes::MultipartStyle epilogue;
  epilogue.epilogue = "  \r\nan epilogue\r\n--" + n + "\r\nContent-Range: garbage\r\n\r\n" +
                      std::string("\0\xff", 2);
  cases.push_back({"epilogue",
                   n,
                   fakes::BuildByterangesBody(n, {{{0, 1}, 26, "ab"}}, epilogue),
                   {{0, 1, 26, "ab"}}});

  // Bare LF in lines that carry no byte count is tolerated; the CRLF before a delimiter that
  // follows a part's bytes is not optional (see the error cases).
  fakes::MultipartStyle bare_lf;
  bare_lf.line_end = "\n";
  bare_lf.preamble = "preamble\n";
  cases.push_back({"bare LF in preamble, delimiter lines and headers",
                   n,
                   fakes::BuildByterangesBody(n, {{{0, 1}, 26, "ab"}, {{2, 3}, 26, "cd"}}, bare_lf),
                   {{0, 1, 26, "ab"}, {2, 3, 26, "cd"}}});

  // Header names in any case, unknown headers, odd whitespace around values.
  // clang-format off
  cases.push_back({"unknown headers and odd spelling", n,
                   "--" + n + "\r\n"
                   "X-Empty:\r\n"
                   "CONTENT-RANGE:bytes 0-1/26\r\n"
                   "Content-Type: text/plain; charset=\"a:b\"\r\n"
                   "x-content-range: bytes */0\r\n"
                   "Content-Rangez: nonsense\r\n"
                   "Content-Disposition: attachment; filename=\"\xc3\xa9.txt\"\r\n"
                   "\r\n"
                   "ab"
                   "\r\n"
                   "--" + n + "\r\n"
                   "content-range:\t bytes 2-3/26 \t\r\n"
                   "\r\n"
                   "cd"
                   "\r\n"
                   "--" + n + "--",
                   {{0, 1, 26, "ab"}, {2, 3, 26, "cd"}}});
  // clang-format on

  // Offsets past 4 GiB.
  cases.push_back(
      {"64-bit offsets",
       n,
       fakes::BuildByterangesBody(n, {{{5368709120, 5368709123}, 6442450944, "wxyz"},
                                      {{6442450943, 6442450943}, 6442450944, "!"}}),
       {{5368709120, 5368709123, 6442450944, "wxyz"}, {6442450943, 6442450943, 6442450944, "!"}}});

  // The header bounds are inclusive: a line of exactly kMaxHeaderLineBytes (its CR counted).
  const std::string longest = "X-Long: " + std::string(Parser::kMaxHeaderLineBytes - 9, 'l');
  fakes::MultipartStyle long_line;
  long_line.extra_headers = {longest};
  cases.push_back({"header line at the bound",
                   n,
                   fakes::BuildByterangesBody(n, {{{0, 1}, 26, "ab"}}, long_line),
                   {{0, 1, 26, "ab"}}});

  // So is the bound on a part's headers.
  const fakes::MultipartPart part{{0, 1}, 26, "ab"};
  fakes::MultipartStyle full_headers;
  full_headers.extra_headers = FillerHeaders(Parser::kMaxPartHeaderBytes - FixedHeaderBytes(part));
  cases.push_back({"headers at the bound",
                   n,
                   fakes::BuildByterangesBody(n, {part}, full_headers),
                   {{0, 1, 26, "ab"}}});

  // The preamble bound is inclusive: the first delimiter "--" boundary ends at its last byte.
  fakes::MultipartStyle long_preamble;
  long_preamble.preamble = std::string(Parser::kMaxPreambleBytes - 4 - n.size(), 'p');
  cases.push_back({"preamble at the bound",
                   n,
                   fakes::BuildByterangesBody(n, {{{0, 1}, 26, "ab"}}, long_preamble),
                   {{0, 1, 26, "ab"}}});

  return cases;
}

TEST(MultipartByterangesParserTest, ParsesValidBodiesHoweverTheyAreSplit) {
  for (const ValidCase& c : ValidCases()) {
    SCOPED_TRACE(c.name);
    for (const Splitting& splitting : Splittings(c.body.size())) {
      SCOPED_TRACE(splitting.name);
      const Outcome outcome = Parse(c.boundary, c.body, splitting.piece_sizes);
      ASSERT_TRUE(outcome.status.ok()) << outcome.status.ToString();
      ASSERT_EQ(outcome.parts, c.parts);
    }
  }
}

TEST(MultipartByterangesParserTest, PassesPartBytesThroughHoldingBackOnlyTheirLastBytes) {
  const std::string body = fakes::BuildByterangesBody(
      "b", {{{0, 99}, 1000, std::string(100, 'x')}, {{500, 999}, 1000, std::string(500, 'y')}});
  std::vector<std::span<const std::byte>> spans;
  Parser::Callbacks callbacks;
  callbacks.on_data = [&](std::span<const std::byte> bytes) {
    spans.push_back(bytes);
    return Status::Ok();
  };
  Parser parser("b", callbacks);
  const auto input = std::as_bytes(std::span(body));
  ASSERT_TRUE(parser.Feed(input).ok());
  ASSERT_TRUE(parser.Finish().ok());
  // Per part: its bytes but the last 4 (the length of CRLF "--b", less one) straight from the
  // input, then those 4 once the delimiter after them has matched.
  ASSERT_EQ(spans.size(), 4U);
  EXPECT_EQ(spans[0].data(), input.data() + body.find(std::string(100, 'x')));
  EXPECT_EQ(spans[0].size(), 96U);
  EXPECT_EQ(spans[1].size(), 4U);
  EXPECT_EQ(spans[2].data(), input.data() + body.find(std::string(500, 'y')));
  EXPECT_EQ(spans[2].size(), 496U);
  EXPECT_EQ(spans[3].size(), 4U);
  EXPECT_EQ(parser.part_count(), 2U);
}

TEST(MultipartByterangesParserTest, APartShorterThanItsContentRangeDeliversNoDelimiterBytes) {
  // Part 1 says 100 bytes but carries 90: the delimiter and part 2's headers follow at once.
  // Whatever the pieces, part 1 gets exactly its 90 real bytes, and the parse fails.
  const std::string short_part = "\r\n--b\r\nContent-Range: bytes 0-99/1000\r\n\r\n" +
                                 std::string(90, 'x') +
                                 "\r\n--b\r\nContent-Range: bytes 500-509/1000\r\n\r\n" +
                                 std::string(10, 'y') + "\r\n--b--\r\n";
  // And one 2 bytes short: the delimiter begins inside the labelled length and ends after it.
  const std::string two_short =
      "\r\n--b\r\nContent-Range: bytes 0-99/1000\r\n\r\n" + std::string(98, 'x') + "\r\n--b--\r\n";
  for (const auto& [body, delivered] :
       {std::pair{short_part, size_t{90}}, std::pair{two_short, size_t{96}}}) {
    for (const Splitting& splitting : Splittings(body.size())) {
      SCOPED_TRACE(splitting.name);
      const Outcome outcome = Parse("b", body, splitting.piece_sizes);
      EXPECT_EQ(outcome.status.code(), ErrorCode::kProtocolViolation);
      ASSERT_EQ(outcome.parts.size(), 1U);
      EXPECT_EQ(outcome.parts[0].data, std::string(delivered, 'x'));
    }
  }
}

TEST(MultipartByterangesParserTest, EmptyCallbacksAcceptEverything) {
  Parser parser("b", {});
  EXPECT_TRUE(parser.Feed(fakes::BuildByterangesBody("b", {{{0, 1}, 2, "ab"}})).ok());
  EXPECT_TRUE(parser.complete());
  EXPECT_TRUE(parser.Finish().ok());
  EXPECT_EQ(parser.part_count(), 1U);
}

TEST(MultipartByterangesParserTest, EmptyPiecesChangeNothing) {
  std::vector<Delivered> parts;
  Parser parser("b", Recorder(&parts));
  const std::string body = fakes::BuildByterangesBody("b", {{{0, 1}, 2, "ab"}});
  for (const char c : body) {
    ASSERT_TRUE(parser.Feed(std::span<const std::byte>()).ok());
    ASSERT_TRUE(parser.Feed(std::string_view(&c, 1)).ok());
  }
  ASSERT_TRUE(parser.Feed(std::span<const std::byte>()).ok());
  ASSERT_TRUE(parser.Finish().ok());
  EXPECT_EQ(parts, (std::vector<Delivered>{{0, 1, 2, "ab"}}));
}

// ---------------------------------------------------------------------------------------------
// Malformed and truncated bodies: the same error and the same bytes however they are split.

struct ErrorCase {
  std::string name;
  std::string boundary;
  std::string body;
  ErrorCode code;
  std::string message;  // a part of the message
  bool at_finish;       // Feed accepted everything and Finish refused
  std::vector<Delivered> parts;
};

std::vector<ErrorCase> ErrorCases() {
  std::vector<ErrorCase> cases;
  const std::string n(kNginx);
  const std::string head = "\r\n--" + n + "\r\nContent-Type: text/plain\r\n";
  const std::string close = "\r\n--" + n + "--\r\n";
  constexpr ErrorCode kLie = ErrorCode::kProtocolViolation;
  constexpr ErrorCode kShort = ErrorCode::kTruncated;
  const Delivered ab{0, 1, 26, "ab"};
  // Part 1 when what follows its bytes is not its delimiter: they were held back for it, and
  // are dropped with the error.
  const Delivered ab_held{0, 1, 26, ""};
  const std::string first = head + "Content-Range: bytes 0-1/26\r\n\r\nab";

  // Content-Range missing or not usable.
  cases.push_back({"no Content-Range",
                   n,
                   head + "\r\nab" + close,
                   kLie,
                   "part 1: no Content-Range",
                   false,
                   {}});
  cases.push_back({"no Content-Range in the second part",
                   n,
                   first + head + "\r\ncd" + close,
                   kLie,
                   "part 2: no Content-Range",
                   false,
                   {ab}});
  cases.push_back({"unsatisfied range */N",
                   n,
                   head + "Content-Range: bytes */26\r\n\r\n" + close,
                   kLie,
                   "\"bytes */26\" names no range",
                   false,
                   {}});
  for (const std::string value :
       {"bytes 1-0/26", "bytes 0-x/26", "bytes 0-26/26", "bytes -1-2/26", "bytes 0-1",
        "items 0-1/26", "bytes 0-1/26x", "bytes 0 - 1/26", "bytes 0-18446744073709551616/26", ""}) {
    cases.push_back({"Content-Range \"" + value + "\"",
                     n,
                     head + "Content-Range: " + value + "\r\n\r\nab" + close,
                     kLie,
                     "part 1: malformed Content-Range",
                     false,
                     {}});
  }
  cases.push_back(
      {"two Content-Ranges",
       n,
       head + "Content-Range: bytes 0-1/26\r\nContent-Range: bytes 0-1/26\r\n\r\nab" + close,
       kLie,
       "part 1: two Content-Range headers",
       false,
       {}});
  cases.push_back({"complete lengths differ",
                   n,
                   first + head + "Content-Range: bytes 2-3/27\r\n\r\ncd" + close,
                   kLie,
                   "part 2: Content-Range \"bytes 2-3/27\" gives another complete length than "
                   "an earlier part (26)",
                   false,
                   {ab}});

  cases.push_back({"complete lengths differ across an unknown one",
                   n,
                   first + head + "Content-Range: bytes 2-3/*\r\n\r\ncd" + head +
                       "Content-Range: bytes 4-5/27\r\n\r\nef" + close,
                   kLie,
                   "part 3: Content-Range \"bytes 4-5/27\" gives another complete length than "
                   "an earlier part (26)",
                   false,
                   {ab, {2, 3, std::nullopt, "cd"}}});
  cases.push_back({"unknown complete length, body shorter than declared",
                   n,
                   head + "Content-Range: bytes 0-4/*\r\n\r\nabc" + close,
                   kLie,
                   "part 1 (bytes 0-4/*): '-' where the delimiter",
                   false,
                   {{0, 4, std::nullopt, ""}}});

  // Bodies that do not have their Content-Range's length.
  cases.push_back({"body shorter than declared",
                   n,
                   head + "Content-Range: bytes 0-4/26\r\n\r\nabc" + close,
                   kLie,
                   "part 1 (bytes 0-4/26): '-' where the delimiter",
                   false,
                   // The delimiter's CRLF, counted as the part's last two bytes, never goes
                   // out: a part's last bytes wait for its delimiter.
                   {{0, 4, 26, ""}}});
  cases.push_back({"body one byte short",
                   n,
                   head + "Content-Range: bytes 0-2/26\r\n\r\nab" + close,
                   kLie,
                   "part 1 (bytes 0-2/26): byte 0x0a where the delimiter",
                   false,
                   {{0, 2, 26, ""}}});  // the delimiter's CR is not the part's last byte
  cases.push_back({"body longer than declared",
                   n,
                   head + "Content-Range: bytes 0-1/26\r\n\r\nabcd" + close,
                   kLie,
                   "part 1 (bytes 0-1/26): 'c' where the delimiter",
                   false,
                   {ab_held}});
  cases.push_back({"body one byte long",
                   n,
                   first + "c" + close,
                   kLie,
                   "'c' where the delimiter \"\\r\\n--" + n + "\" should follow its 2 bytes",
                   false,
                   {ab_held}});
  cases.push_back({"blank line between parts",
                   n,
                   first + "\r\n" + close,
                   kLie,
                   "byte 0x0d where the delimiter",
                   false,
                   {ab_held}});
  cases.push_back({"bare LF before the delimiter",
                   n,
                   first + "\n--" + n + "--\r\n",
                   kLie,
                   "byte 0x0a where the delimiter",
                   false,
                   {ab_held}});
  cases.push_back({"a longer boundary",
                   n,
                   first + "\r\n--" + n + "0--\r\n",
                   kLie,
                   "delimiter \"--" + n + "\" followed by '0'",
                   false,
                   {ab}});
  cases.push_back({"another boundary",
                   n,
                   first + "\r\n--00000000000000000002--\r\n",
                   kLie,
                   "'2' where the delimiter",
                   false,
                   {ab_held}});

  // Delimiter lines.
  cases.push_back({"garbage after the first delimiter",
                   n,
                   "\r\n--" + n + "X\r\nContent-Range: bytes 0-1/26\r\n\r\nab" + close,
                   kLie,
                   "delimiter \"--" + n + "\" followed by 'X'",
                   false,
                   {}});
  cases.push_back({"garbage after the padding",
                   n,
                   first + "\r\n--" + n + "  x\r\n",
                   kLie,
                   "followed by 'x'",
                   false,
                   {ab}});
  cases.push_back({"padding before --",
                   n,
                   first + "\r\n--" + n + " --\r\n",
                   kLie,
                   "followed by '-'",
                   false,
                   {ab}});
  cases.push_back({"one dash after the boundary",
                   n,
                   first + "\r\n--" + n + "-x\r\n",
                   kLie,
                   "\"--" + n + "-\" followed by 'x'",
                   false,
                   {ab}});
  cases.push_back({"CR without LF after a delimiter",
                   n,
                   "--" + n + "\rContent-Range: x",
                   kLie,
                   "CR not followed by LF",
                   false,
                   {}});
  cases.push_back({"close delimiter first",
                   n,
                   "\r\n--" + n + "--\r\n",
                   kLie,
                   "close delimiter before any part",
                   false,
                   {}});
  cases.push_back({"padding too long",
                   n,
                   "--" + n + std::string(9000, ' ') + "\r\n",
                   kLie,
                   "delimiter line too long",
                   false,
                   {}});

  // Header syntax and bounds.
  cases.push_back({"folded header",
                   n,
                   head + "X-Note: one\r\n two\r\nContent-Range: bytes 0-1/26\r\n\r\nab" + close,
                   kLie,
                   "part 1: folded header line",
                   false,
                   {}});
  cases.push_back({"header without colon",
                   n,
                   head + "Content-Range bytes 0-1/26\r\n\r\nab" + close,
                   kLie,
                   "part 1: header line without ':'",
                   false,
                   {}});
  cases.push_back({"space before the colon",
                   n,
                   head + "Content-Range : bytes 0-1/26\r\n\r\nab" + close,
                   kLie,
                   "part 1: malformed header name",
                   false,
                   {}});
  cases.push_back({"empty header name",
                   n,
                   head + ": x\r\n\r\nab" + close,
                   kLie,
                   "part 1: malformed header name",
                   false,
                   {}});
  cases.push_back({"CR inside a header line",
                   n,
                   head + "Content-Range: bytes 0-1/26\rX-Other: 1\r\n\r\nab" + close,
                   kLie,
                   "part 1: byte 0x0d in a header line",
                   false,
                   {}});
  cases.push_back({"control byte in a header",
                   n,
                   head + "X-Other: a" + std::string(1, '\0') + "b\r\n",
                   kLie,
                   "part 1: byte 0x00 in a header line",
                   false,
                   {}});
  cases.push_back(
      {"header line one byte over the bound",
       n,
       head + "X-Long: " + std::string(Parser::kMaxHeaderLineBytes - 8, 'l') + "\r\n\r\nab" + close,
       kLie,
       "part 1: header line longer than 8192 bytes",
       false,
       {}});
  cases.push_back({"endless header line",
                   n,
                   first + "\r\n--" + n + "\r\nX: " + std::string(100000, 'l'),
                   kLie,
                   "part 2: header line longer than 8192 bytes",
                   false,
                   {ab}});
  const fakes::MultipartPart part{{0, 1}, 26, "ab"};
  fakes::MultipartStyle full_headers;
  full_headers.extra_headers =
      FillerHeaders(Parser::kMaxPartHeaderBytes - FixedHeaderBytes(part) + 1);
  cases.push_back({"headers over the bound",
                   n,
                   fakes::BuildByterangesBody(n, {part}, full_headers),
                   kLie,
                   "part 1: headers longer than 65536 bytes",
                   false,
                   {}});

  // Preamble.
  // The first delimiter must end within kMaxPreambleBytes (see the valid case at the bound).
  cases.push_back({"preamble over the bound",
                   n,
                   std::string(Parser::kMaxPreambleBytes - 4 - n.size() + 1, 'p') + first + close,
                   kLie,
                   "no delimiter \"--" + n + "\" in the first 65536 bytes",
                   false,
                   {}});
  cases.push_back({"preamble of many lines over the bound",
                   n,
                   Repeat("preamble\r\n", 7000) + first + close,
                   kLie,
                   "in the first 65536 bytes",
                   false,
                   {}});
  cases.push_back({"not multipart at all",
                   n,
                   "PK\x03\x04 a zip file",
                   kShort,
                   "body ended before the first delimiter",
                   true,
                   {}});

  // Bodies that end early: Finish says kTruncated.
  cases.push_back({"empty body", n, "", kShort, "body ended before the first delimiter", true, {}});
  cases.push_back({"ends in the preamble",
                   n,
                   "\r\n--" + n.substr(0, 5),
                   kShort,
                   "body ended before the first delimiter",
                   true,
                   {}});
  cases.push_back({"ends after the first delimiter",
                   n,
                   "\r\n--" + n,
                   kShort,
                   "body ended in a delimiter line, before part 1",
                   true,
                   {}});
  cases.push_back({"ends in the headers",
                   n,
                   head + "Content-Range: bytes 0-1/26\r\n",
                   kShort,
                   "body ended in the headers of part 1",
                   true,
                   {}});
  cases.push_back({"ends in a part",
                   n,
                   head + "Content-Range: bytes 0-4/26\r\n\r\nab",
                   kShort,
                   "body ended after 2 of the 5 bytes of part 1 (bytes 0-4/26)",
                   true,
                   {{0, 4, 26, ""}}});  // held back: they might have begun a delimiter
  cases.push_back({"ends after a part",
                   n,
                   first,
                   kShort,
                   "body ended without a close delimiter after part 1 (bytes 0-1/26)",
                   true,
                   {ab_held}});
  cases.push_back({"ends in the close delimiter",
                   n,
                   first + "\r\n--" + n + "-",
                   kShort,
                   "body ended in a delimiter line, before part 2",
                   true,
                   {ab}});
  cases.push_back({"ends after a delimiter that is not the close",
                   n,
                   first + "\r\n--" + n + "\r\n",
                   kShort,
                   "body ended in the headers of part 2",
                   true,
                   {ab}});
  return cases;
}

TEST(MultipartByterangesParserTest, RejectsMalformedBodiesHoweverTheyAreSplit) {
  for (const ErrorCase& c : ErrorCases()) {
    SCOPED_TRACE(c.name);
    for (const Splitting& splitting : Splittings(c.body.size())) {
      SCOPED_TRACE(splitting.name);
      const Outcome outcome = Parse(c.boundary, c.body, splitting.piece_sizes);
      ASSERT_EQ(outcome.status.code(), c.code) << outcome.status.ToString();
      ASSERT_NE(outcome.status.message().find(c.message), std::string::npos)
          << outcome.status.message();
      ASSERT_EQ(outcome.failed_in_feed, !c.at_finish);
      ASSERT_EQ(outcome.parts, c.parts);
    }
  }
}

TEST(MultipartByterangesParserTest, InvalidBoundaryFailsEveryCall) {
  for (const std::string& boundary : {std::string(), std::string(71, 'b'), std::string("b "),
                                      std::string("a\r\nb"), std::string("a\"b")}) {
    SCOPED_TRACE("\"" + boundary + "\"");
    std::vector<Delivered> parts;
    Parser parser(boundary, Recorder(&parts));
    const std::string body = fakes::BuildByterangesBody(boundary, {{{0, 1}, 2, "ab"}});
    const Status fed = parser.Feed(body);
    EXPECT_EQ(fed.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(fed.message().find("invalid boundary"), std::string::npos) << fed.message();
    EXPECT_EQ(parser.Feed(std::span<const std::byte>()).code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(parser.Finish().code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(parts.empty());
  }
}

// ---------------------------------------------------------------------------------------------
// Callbacks that refuse: their Status comes back unchanged, and nothing is called again.

TEST(MultipartByterangesParserTest, OnPartRefusalStopsTheParse) {
  const std::string body = fakes::BuildByterangesBody(
      "b", {{{0, 1}, 26, "ab"}, {{10, 11}, 26, "kl"}, {{20, 21}, 26, "uv"}});
  for (const Splitting& splitting : Splittings(body.size())) {
    SCOPED_TRACE(splitting.name);
    std::vector<Delivered> parts;
    Parser::Callbacks callbacks = Recorder(&parts);
    callbacks.on_part = [record = callbacks.on_part](const ContentRange& range) {
      Status recorded = record(range);
      if (range.range->first == 10) {
        return Status(ErrorCode::kProtocolViolation, "bytes 10-11 were not asked");
      }
      return recorded;
    };
    Parser parser("b", callbacks);
    Status status;
    std::string_view rest = body;
    for (const size_t size : splitting.piece_sizes) {
      const std::string_view piece = rest.substr(0, size);
      rest.remove_prefix(piece.size());
      status = parser.Feed(piece);
      if (!status.ok()) break;
    }
    EXPECT_EQ(status.code(), ErrorCode::kProtocolViolation);
    EXPECT_EQ(status.message(), "bytes 10-11 were not asked");
    EXPECT_EQ(parser.Feed(rest).message(), "bytes 10-11 were not asked");
    EXPECT_EQ(parser.Finish().message(), "bytes 10-11 were not asked");
    EXPECT_EQ(parser.part_count(), 1U);
    // The refused part was offered, but none of its bytes and nothing after it.
    EXPECT_EQ(parts, (std::vector<Delivered>{{0, 1, 26, "ab"}, {10, 11, 26, ""}}));
  }
}

TEST(MultipartByterangesParserTest, OnDataRefusalStopsTheParse) {
  const std::string body =
      fakes::BuildByterangesBody("b", {{{0, 9}, 26, "abcdefghij"}, {{20, 21}, 26, "uv"}});
  for (const Splitting& splitting : Splittings(body.size())) {
    SCOPED_TRACE(splitting.name);
    std::vector<Delivered> parts;
    int data_calls = 0;
    Parser::Callbacks callbacks = Recorder(&parts);
    callbacks.on_data = [&, record = callbacks.on_data](std::span<const std::byte> bytes) {
      ++data_calls;
      EXPECT_TRUE(record(bytes).ok());
      return Status(ErrorCode::kInternal, "reader went away");
    };
    Parser parser("b", callbacks);
    Status status;
    std::string_view rest = body;
    for (const size_t size : splitting.piece_sizes) {
      const std::string_view piece = rest.substr(0, size);
      rest.remove_prefix(piece.size());
      status = parser.Feed(piece);
      if (!status.ok()) break;
    }
    EXPECT_EQ(status.code(), ErrorCode::kInternal);
    EXPECT_EQ(status.message(), "reader went away");
    EXPECT_EQ(parser.Feed(rest).code(), ErrorCode::kInternal);
    EXPECT_EQ(parser.Finish().code(), ErrorCode::kInternal);
    EXPECT_EQ(data_calls, 1);
    ASSERT_EQ(parts.size(), 1U);
    // Whatever the first piece of the part's bytes held, and no more.
    EXPECT_FALSE(parts[0].data.empty());
    EXPECT_EQ(parts[0].data, std::string("abcdefghij").substr(0, parts[0].data.size()));
  }
}

}  // namespace
}  // namespace rangefs::http
