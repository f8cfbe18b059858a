#include "http/redirect.h"

#include <utility>

#include "http/url_target.h"
#include "listing/curl_url.h"
#include "rangefs/redact.h"

namespace rangefs::http {

bool IsRedirect(long code) {
  return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

std::optional<Result<std::string>> RedirectLocation(CURL* handle, long code,
                                                    const Exchange& exchange) {
  if (!IsRedirect(code)) return std::nullopt;
  char* location = nullptr;
  curl_easy_getinfo(handle, CURLINFO_REDIRECT_URL, &location);
  if (location == nullptr || *location == '\0') {
    return Result<std::string>(Status(
        ErrorCode::kHttpStatus, DescribeStatus(exchange, code) + " without a usable Location"));
  }
  return Result<std::string>(std::string(location));
}

Status CheckRedirect(const HttpOptions& options, std::string_view from, std::string_view to,
                     long redirects) {
  const std::string hop = "redirect from " + RedactUrl(from) + " to " + RedactUrl(to);
  if (redirects >= kMaxRedirects) {
    return Status(ErrorCode::kHttpStatus, "more than " + std::to_string(kMaxRedirects) +
                                              " redirects (the next: " + hop + ")");
  }
  const std::string scheme = http::UrlScheme(to);
  if (scheme != "http" && scheme != "https") {
    return Status(ErrorCode::kHttpStatus, hop + " refused: only http and https are followed");
  }
  if (scheme == "http" && http::UrlScheme(from) == "https" && !options.allow_insecure_redirect) {
    return Status(ErrorCode::kHttpStatus, hop +
                                              " refused: it leaves https for unencrypted http "
                                              "(--allow-insecure-redirect allows it)");
  }
  if (Result<http::UrlTarget> target = http::ParseUrlTarget(to); !target.ok()) {
    return Status(ErrorCode::kHttpStatus, hop + " refused: " + target.status().message());
  }
  return Status::Ok();
}

Result<std::string> ResolveLocation(std::string_view base, std::string_view location) {
  const std::string base_copy(base);
  const std::string location_copy(location);
  if (location_copy.find('\0') != std::string::npos) {
    return Status(ErrorCode::kHttpStatus, "a Location with a NUL byte");
  }
  listing::CurlUrl url(curl_url());
  if (!url) return Status(ErrorCode::kInternal, "out of memory");
  // Setting a URL on a handle that holds one resolves it against that one. Unknown schemes
  // parse, so that CheckRedirect reports a "file:" target as such.
  if (const CURLUcode rc =
          curl_url_set(url.get(), CURLUPART_URL, base_copy.c_str(), CURLU_NON_SUPPORT_SCHEME);
      rc != CURLUE_OK) {
    return Status(ErrorCode::kHttpStatus,
                  RedactUrl(base) + " cannot be resolved against: " + curl_url_strerror(rc));
  }
  if (const CURLUcode rc = curl_url_set(url.get(), CURLUPART_URL, location_copy.c_str(),
                                        CURLU_NON_SUPPORT_SCHEME | CURLU_URLENCODE);
      rc != CURLUE_OK) {
    return Status(ErrorCode::kHttpStatus, "an unusable Location \"" + RedactUrl(location) + "\" (" +
                                              curl_url_strerror(rc) + ")");
  }
  std::optional<std::string> resolved = listing::UrlPart(url.get(), CURLUPART_URL, 0);
  if (!resolved) return Status(ErrorCode::kInternal, "out of memory");
  return std::move(*resolved);
}

Status RangeRedirect(const HttpOptions& options, std::string_view from, const std::string& answer,
                     const std::optional<std::string>& location) {
  const std::string what = answer + " to a range request";
  // Blank counts as none (libcurl 7.88 gives an empty field's value as its line end).
  if (!location || location->find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status(ErrorCode::kHttpStatus, what + " without a usable Location");
  }
  Result<std::string> target = ResolveLocation(from, *location);
  if (!target.ok()) return Status(target.status().code(), what + ": " + target.status().message());
  // The hop count is the caller's: 0 leaves the limit out of this check.
  if (Status allowed = CheckRedirect(options, from, *target, 0); !allowed.ok()) {
    return Status(ErrorCode::kHttpStatus, what + ": " + allowed.message());
  }
  return Status(ErrorCode::kRedirected, what + ", to " + RedactUrl(*target))
      .WithRedirectTo(std::move(*target));
}

}  // namespace rangefs::http
