// Redirects, followed one checked hop at a time by the probe, the listing fetch and (through
// the retry layer, RangeRedirect) the range GETs alike: only http and https, never from https
// to http unless allowed, at most kMaxRedirects hops. (The caller decides per hop which
// credentials go along: RequestSetup::RequestFor.)
//
// Thread-safety: pure functions.
#pragma once

#include <curl/curl.h>

#include <optional>
#include <string>
#include <string_view>

#include "http/response.h"
#include "rangefs/http_range_source.h"
#include "rangefs/status.h"

namespace rangefs::http {

// The probe's and the listing fetch's hop limit, the range fetches' (rangefs::kMaxRedirects).
inline constexpr long kMaxRedirects = rangefs::kMaxRedirects;

// The redirect statuses that name another location for the same request (RFC 9110 15.4).
bool IsRedirect(long code);

// Where a redirect answer leads (absolute: libcurl resolves a relative Location), or an error
// when it names no usable location. Empty when the answer is not a redirect.
std::optional<Result<std::string>> RedirectLocation(CURL* handle, long code,
                                                    const Exchange& exchange);

// Whether a request may follow a redirect from `from` to `to`, the redirect number
// `redirects` + 1. The error names both URLs, redacted.
Status CheckRedirect(const HttpOptions& options, std::string_view from, std::string_view to,
                     long redirects);

// Where a redirect's Location (`location`: the field's value, relative or absolute) leads from
// `base`, the URL that was asked: absolute, resolved by RFC 3986 section 5 as libcurl resolves
// it. kHttpStatus naming the problem when it cannot be resolved.
Result<std::string> ResolveLocation(std::string_view base, std::string_view location);

// What a redirect answer (`answer`, e.g. "HTTP 302 Found") to a range GET of `from` with the
// Location field `location` (nullopt when it has none) means: kRedirected with the absolute
// target in Status::redirect_to() when it may be followed by the rules of CheckRedirect but the
// hop limit (the caller counts hops: RetryingRangeSource); kHttpStatus, naming why, when the
// answer names no usable location or one that may not be followed. The range GET does not
// follow it itself: the retry layer asks again at the target as a new attempt, with the
// credentials RequestSetup::RequestFor allows there. (Unlike RedirectLocation this needs no
// finished transfer: libcurl resolves CURLINFO_REDIRECT_URL only once a transfer is done, and
// a range GET judges its answer at the first body byte.)
Status RangeRedirect(const HttpOptions& options, std::string_view from, const std::string& answer,
                     const std::optional<std::string>& location);

}  // namespace rangefs::http
