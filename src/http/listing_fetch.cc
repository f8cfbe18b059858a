#include "http/listing_fetch.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "http/redirect.h"
#include "http/response.h"
#include "http/url_target.h"
#include "rangefs/redact.h"

namespace rangefs::http {
namespace {

// JSON first: the one format with exact sizes and dates everywhere (Caddy's browse answers it
// when asked; nginx, Apache, lighttpd and Python answer HTML whatever is asked).
constexpr char kAccept[] =
    "Accept: application/json, text/html;q=0.9, application/xhtml+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1";

struct BodyLimit {
  std::string* body;
  uint64_t max_bytes;
  bool exceeded = false;
};

size_t KeepUpToLimit(char* data, size_t size, size_t count, void* user) {
  BodyLimit& limit = *static_cast<BodyLimit*>(user);
  const size_t bytes = size * count;
  if (limit.body->size() + bytes > limit.max_bytes) {
    limit.exceeded = true;
    return 0;  // aborts the transfer: CURLE_WRITE_ERROR
  }
  limit.body->append(data, bytes);
  return bytes;
}

Status StatusError(const Exchange& exchange, long code) {
  const std::string described = DescribeStatus(exchange, code);
  if (code == 404 || code == 410) return Status(ErrorCode::kNotFound, described);
  if (code == 408 || code == 429 || code >= 500) return Status(ErrorCode::kServerBusy, described);
  return Status(ErrorCode::kHttpStatus, described);
}

}  // namespace

Result<FetchedPage> FetchListingPage(CurlHandlePool& pool, const RequestSetup& requests,
                                     const std::string& url, uint64_t max_bytes,
                                     std::chrono::milliseconds budget, Metrics* metrics) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  Result<UrlTarget> original = ParseUrlTarget(url);
  if (!original.ok()) return original.status();
  const CurlHandlePool::Lease lease = pool.Acquire();
  if (!lease.get()) return Status(ErrorCode::kInternal, "curl_easy_init failed");
  CURL* const handle = lease.get();

  std::string current = url;
  long redirects = 0;
  std::optional<ProxyRoutes::Choice> route;  // every hop's; another after a proxy failed
  size_t failovers = 0;
  while (true) {
    Result<Request> request = requests.RequestFor(*original, current);
    if (!request.ok()) return request.status();
    if (!route)
      requests.Route(*request, RouteKey(url, 0));
    else
      request->route = route;
    route = request->route;
    curl_easy_reset(handle);
    Exchange exchange;
    CurlSlist headers;
    if (!requests.Configure(handle, *request, exchange, headers) ||
        !AppendHeader(headers, kAccept)) {
      return Status(ErrorCode::kInternal, "out of memory");
    }
    FetchedPage page;
    BodyLimit limit{.body = &page.body, .max_bytes = max_bytes};
    // What is left of the budget bounds this hop: a page that never ends, or a chain of slow
    // redirects, ends by the deadline whatever the server does.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Status(ErrorCode::kTransport, RedactUrl(url) + ": no answer within " +
                                               std::to_string(budget.count()) + " ms");
    }
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &KeepUpToLimit);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &limit);
    // A listing may come compressed; libcurl decodes what it can.
    curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");
    requests.EndOnStop(handle);
    const CURLcode rc = curl_easy_perform(handle);
    CountRequest(metrics, url, handle);
    if (rc == CURLE_ABORTED_BY_CALLBACK) return RequestSetup::Stopped();
    if (requests.Judge(*request, handle, rc, exchange, false) == ProxyOutcome::kProxyFailed &&
        requests.CanFailOver() && ++failovers < requests.RouteCount()) {
      current = url;  // not the server's answer: again from the start, through the next route
      redirects = 0;
      route.reset();
      continue;
    }
    if (limit.exceeded) {
      return Status(ErrorCode::kLimitExceeded,
                    RedactUrl(request->url) + ": the listing is larger than " +
                        std::to_string(max_bytes) + " bytes (--max-listing-size)");
    }
    if (rc != CURLE_OK) return TransportError(rc, exchange);
    const long code = ResponseCode(handle);
    if (std::optional<Result<std::string>> location = RedirectLocation(handle, code, exchange)) {
      if (!location->ok()) return location->status();
      if (Status allowed = CheckRedirect(requests.options(), current, **location, redirects);
          !allowed.ok()) {
        return allowed;
      }
      ++redirects;
      spdlog::debug("{}: redirected to {}", RedactUrl(current), RedactUrl(**location));
      current = std::move(*location).value();
      continue;
    }
    if (code < 200 || code > 299) return StatusError(exchange, code);
    page.content_type = ResponseHeader(handle, "Content-Type").value_or("");
    page.final_url = request->url;
    return page;
  }
}

}  // namespace rangefs::http
