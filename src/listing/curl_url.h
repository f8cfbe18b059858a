// libcurl's URL API with ownership: what every layer that takes URLs apart shares (the listing
// parsers, the HTTP layer's redirect targets, the command line's names). It lives in listing/,
// the lowest layer allowed to include libcurl.
//
// Thread-safety: pure functions.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>

namespace rangefs::listing {

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

// The part of `url` (curl_url_get with `flags`), or nullopt when it has none.
std::optional<std::string> UrlPart(CURLU* url, CURLUPart part, unsigned int flags = 0);

// ASCII lower case (schemes and host names compare that way).
std::string AsciiLower(std::string text);

}  // namespace rangefs::listing
