// RequestSetup: how HttpRangeSource makes its requests, the probe's and the range GETs' alike:
// which credentials a URL may be sent (the user's only to the origin of the user's URL, unless
// --location-trusted), and the options every request shares.
//
// Thread-safety: immutable after construction; its const members may be called from any
// thread, each on an easy handle that thread holds.
// Ownership: keeps a reference to the options, which must outlive it.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/curl_handle.h"
#include "http/proxy_verdict.h"
#include "http/response.h"
#include "http/url_target.h"
#include "rangefs/http_range_source.h"
#include "rangefs/metrics.h"
#include "rangefs/proxy_routes.h"
#include "rangefs/status.h"

namespace rangefs::http {

// One request: where it goes, and whether it carries the user's credentials (headers, netrc,
// the userinfo of the URL the user gave).
struct Request {
  std::string url;  // without userinfo: credentials travel in their own options
  bool credentials = false;
  std::optional<std::string> user;
  std::optional<std::string> password;
  // The proxy it goes through (empty: none), when --proxy names any; else libcurl's
  // environment variables decide.
  std::optional<ProxyRoutes::Choice> route;
};

class RequestSetup {
 public:
  // `metrics` (may be null; must outlive this) counts each proxy's requests and state.
  explicit RequestSetup(const HttpOptions& options, Metrics* metrics = nullptr);

  const HttpOptions& options() const { return options_; }

  // How `url` (the user's, or one a redirect led to) is requested: with the user's credentials
  // only when it has the origin of the user's URL, or with --location-trusted.
  Result<Request> RequestFor(const http::UrlTarget& original, std::string_view url) const;
  // Picks the proxy `request` goes through, by `key` (RouteKey of the user's URL and the
  // offset asked for). Nothing without --proxy.
  void Route(Request& request, std::string_view key) const;
  // Tells the routes how the proxy of `request` did in the exchange just performed on `handle`
  // (`stalled`: the stall watch cut it off), and returns that.
  ProxyOutcome Judge(const Request& request, CURL* handle, CURLcode result,
                     const Exchange& exchange, bool stalled) const;
  // Whether a request whose proxy failed can go through another route at once.
  bool CanFailOver() const { return routes_ && routes_->several(); }
  // How many routes there are (0 without --proxy).
  size_t RouteCount() const { return routes_ ? routes_->size() : 0; }

  // Options every request shares: URL, no redirects, TLS, proxy, timeouts, callbacks, and the
  // credentials when the request may carry them. The user's headers are appended to `headers`;
  // the caller appends its own and sets CURLOPT_HTTPHEADER. False when out of memory.
  bool Configure(CURL* handle, const Request& request, Exchange& exchange,
                 CurlSlist& headers) const;
  // For a request its caller blocks on (curl_easy_perform): it ends, with
  // CURLE_ABORTED_BY_CALLBACK, soon after options().stop is requested. libcurl asks at least
  // once a second, also while nothing arrives. Call after Configure; it takes the progress
  // callback, which the engine's transfers use for themselves.
  void EndOnStop(CURL* handle) const;
  // What such a request fails with: the caller is stopping, not the server at fault.
  static Status Stopped();

 private:
  const HttpOptions& options_;
  const std::vector<std::string> header_lines_;  // options_.headers as libcurl takes them
  // From options_.proxy; null without one. Thread-safe, so const members may report to it.
  const std::unique_ptr<ProxyRoutes> routes_;
  Metrics* const metrics_;
};

}  // namespace rangefs::http
