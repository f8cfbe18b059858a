#include "http/url_target.h"

#include <curl/curl.h>

#include <memory>

#include "listing/curl_url.h"

namespace rangefs::http {
namespace {

using listing::AsciiLower;
using listing::CurlUrl;
using listing::UrlPart;

Status Invalid(std::string why) { return Status(ErrorCode::kInvalidArgument, std::move(why)); }

// Parses with the flags the transfer itself will use, plus unknown schemes so that a redirect
// to "file:" is reported as such rather than as a bad URL.
Result<CurlUrl> Parse(std::string_view text) {
  CurlUrl url(curl_url());
  if (!url) return Status(ErrorCode::kInternal, "out of memory");
  const std::string copy(text);
  if (copy.find('\0') != std::string::npos) return Invalid("the URL contains NUL");
  if (const CURLUcode rc =
          curl_url_set(url.get(), CURLUPART_URL, copy.c_str(), CURLU_NON_SUPPORT_SCHEME);
      rc != CURLUE_OK) {
    return Invalid(curl_url_strerror(rc));
  }
  return url;
}

}  // namespace

std::string UrlScheme(std::string_view text) {
  Result<CurlUrl> url = Parse(text);
  if (!url.ok()) return "";
  return AsciiLower(UrlPart(url->get(), CURLUPART_SCHEME, 0).value_or(""));
}

Result<UrlTarget> ParseUrlTarget(std::string_view text) {
  Result<CurlUrl> parsed = Parse(text);
  if (!parsed.ok()) return parsed.status();
  CURLU* const url = parsed->get();
  UrlTarget target;
  target.scheme = AsciiLower(UrlPart(url, CURLUPART_SCHEME, 0).value_or(""));
  if (target.scheme != "http" && target.scheme != "https") {
    return Invalid("only http and https URLs are supported");
  }
  const std::optional<std::string> host = UrlPart(url, CURLUPART_HOST, 0);
  if (!host || host->empty()) return Invalid("the URL has no host");
  const std::optional<std::string> port = UrlPart(url, CURLUPART_PORT, CURLU_DEFAULT_PORT);
  target.origin = target.scheme + "://" + AsciiLower(*host) + ":" + port.value_or("");

  target.user = UrlPart(url, CURLUPART_USER, CURLU_URLDECODE);
  target.password = UrlPart(url, CURLUPART_PASSWORD, CURLU_URLDECODE);
  curl_url_set(url, CURLUPART_USER, nullptr, 0);
  curl_url_set(url, CURLUPART_PASSWORD, nullptr, 0);
  curl_url_set(url, CURLUPART_OPTIONS, nullptr, 0);
  curl_url_set(url, CURLUPART_FRAGMENT, nullptr, 0);  // never sent
  // One spelling per origin on the wire: caches in front of origins (Varnish, Squid) key their
  // entries on Host and the URL, port included, so http://Example.COM:80/x and
  // http://example.com/x must go out alike. libcurl writes the scheme in lower case and leaves
  // out a default port (CURLU_NO_DEFAULT_PORT) but keeps the host as given. (Were the
  // lower-cased host refused, the handle would keep the host as given.)
  // Setting the host drops an IPv6 zone ID, which names a local interface (case-sensitive).
  const std::optional<std::string> zone = UrlPart(url, CURLUPART_ZONEID, 0);
  curl_url_set(url, CURLUPART_HOST, AsciiLower(*host).c_str(), 0);
  if (zone) curl_url_set(url, CURLUPART_ZONEID, zone->c_str(), 0);
  std::optional<std::string> canonical = UrlPart(url, CURLUPART_URL, CURLU_NO_DEFAULT_PORT);
  if (!canonical) return Status(ErrorCode::kInternal, "out of memory");
  target.request_url = std::move(*canonical);
  return target;
}

}  // namespace rangefs::http
