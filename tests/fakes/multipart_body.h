// Builds multipart/byteranges bodies (RFC 7233 appendix A) for the multipart parser's unit
// tests and fuzz target. By default the output is byte for byte what nginx's range filter
// sends; ApacheStyle() gives Apache httpd's byterange filter (lower-case "Content-type" and
// "Content-range"). Both are:
//
//   CRLF "--" boundary CRLF
//   [Content-Type: TYPE CRLF]
//   "Content-Range: bytes FIRST-LAST/LENGTH" CRLF CRLF       (LENGTH "*" when not given)
//   DATA
//   CRLF "--" boundary CRLF ...
//   CRLF "--" boundary "--" CRLF
//
// A part's data need not have its range's length, so tests can build lying bodies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rangefs/byte_range.h"

namespace rangefs::fakes {

struct MultipartPart {
  ByteRange range;
  std::optional<uint64_t> complete_length;  // none: "*", the server does not know it
  std::string data;
};

struct MultipartStyle {
  std::string preamble = "";      // before the first delimiter's CRLF
  std::string padding = "";       // transport padding after each "--" boundary
  std::string line_end = "\r\n";  // of the delimiter lines and the part headers
  std::string content_type_name = "Content-Type";
  std::string content_range_name = "Content-Range";
  std::optional<std::string> part_content_type = "application/octet-stream";
  std::vector<std::string> extra_headers;  // whole lines, after Content-Range
  std::string epilogue = "\r\n";           // after "--" boundary "--"
};

inline MultipartStyle NginxStyle() { return MultipartStyle(); }

inline MultipartStyle ApacheStyle() {
  MultipartStyle style;
  style.content_type_name = "Content-type";
  style.content_range_name = "Content-range";
  return style;
}

inline std::string ContentRangeValue(const MultipartPart& part) {
  return "bytes " + std::to_string(part.range.first) + "-" + std::to_string(part.range.last) + "/" +
         (part.complete_length ? std::to_string(*part.complete_length) : "*");
}

inline std::string BuildByterangesBody(std::string_view boundary,
                                       const std::vector<MultipartPart>& parts,
                                       const MultipartStyle& style = NginxStyle()) {
  const std::string& eol = style.line_end;
  std::string body = style.preamble;
  for (const MultipartPart& part : parts) {
    // The CRLF before each delimiter belongs to the delimiter (RFC 2046), never to the data.
    body += "\r\n--";
    body += boundary;
    body += style.padding + eol;
    if (style.part_content_type) {
      body += style.content_type_name + ": " + *style.part_content_type + eol;
    }
    body += style.content_range_name + ": " + ContentRangeValue(part) + eol;
    for (const std::string& line : style.extra_headers) body += line + eol;
    body += eol;
    body += part.data;
  }
  body += "\r\n--";
  body += boundary;
  body += "--";
  body += style.epilogue;
  return body;
}

}  // namespace rangefs::fakes
