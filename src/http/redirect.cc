#include "http/redirect.h"

#include "http/url_target.h"
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

Status RangeRedirect(const HttpOptions& options, std::string_view from, const std::string& answer,
                     const Result<std::string>& location) {
  if (!location.ok()) return location.status();
  // The hop count is the caller's: 0 leaves the limit out of this check.
  if (Status allowed = CheckRedirect(options, from, *location, 0); !allowed.ok()) {
    return Status(ErrorCode::kHttpStatus, answer + " to a range request: " + allowed.message());
  }
  return Status(ErrorCode::kRedirected, answer + " to a range request, to " + RedactUrl(*location))
      .WithRedirectTo(*location);
}

}  // namespace rangefs::http
