// Request headers the user adds (--header, --header-file): parsing and validation.
//
// These headers usually carry credentials (Authorization, cookies, API keys), so no error
// message here quotes any part of the line it is about.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rangefs/status.h"

namespace rangefs {

struct HttpHeader {
  std::string name;   // a token, as given
  std::string value;  // without surrounding blanks; may be empty
  friend bool operator==(const HttpHeader&, const HttpHeader&) = default;
};

// Parses "Name: value". Fails (kInvalidArgument, without quoting the line) when there is no
// ':', the name is not an HTTP token, the value holds a control character other than TAB, or
// the name is one rangefs sets itself (Range, the If-* preconditions, Accept-Encoding and the
// framing headers: a user's version of those would break the byte-exact reads).
Result<HttpHeader> ParseHeaderLine(std::string_view line);

// A header file: one "Name: value" a line; blank lines and lines whose first non-blank
// character is '#' are skipped; CRLF line ends are accepted. Errors say "line N: why".
Result<std::vector<HttpHeader>> ParseHeaderFile(std::string_view contents);

// The line for libcurl's CURLOPT_HTTPHEADER: "Name: value", or "Name;" for an empty value
// (libcurl reads "Name:" as "do not send this header").
std::string CurlHeaderLine(const HttpHeader& header);

}  // namespace rangefs
