// Where a request goes and which credentials it may carry: the parts of a URL that the
// redirect and credential rules of HttpRangeSource look at, parsed with libcurl's URL parser.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rangefs/status.h"

namespace rangefs::http {

struct UrlTarget {
  std::string scheme;  // lower case: "http" or "https"
  // "https://example.org:443": scheme, lower-case host and port (the default one when none
  // is given). Two URLs are the same origin when these are equal.
  std::string origin;
  // What is requested: without userinfo (credentials travel separately) or fragment, scheme
  // and host in lower case, a default port left out, so one origin has one Host header.
  std::string request_url;
  std::optional<std::string> user;      // percent-decoded userinfo, when the URL has one
  std::optional<std::string> password;  // percent-decoded
};

// Parses an absolute http or https URL. Fails (kInvalidArgument) for another scheme, a
// relative or malformed URL; the message never quotes the URL (the caller names it, redacted).
Result<UrlTarget> ParseUrlTarget(std::string_view url);

// The scheme of an absolute URL in lower case ("file", "ftp"), or "" when there is none.
std::string UrlScheme(std::string_view url);

}  // namespace rangefs::http
