#include "http/probe.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "http/protocol.h"
#include "http/redirect.h"
#include "http/response.h"
#include "http/url_target.h"
#include "rangefs/byte_range.h"
#include "rangefs/redact.h"

namespace rangefs::http {
namespace {

// Where a probe's answer came from and its validators; the caller adds the size. Needs
// CURLOPT_FILETIME on the request for Last-Modified.
RemoteFileInfo IdentityOfResponse(CURL* handle, const std::string& url) {
  RemoteFileInfo info;
  info.url = url;
  char* effective_url = nullptr;
  curl_easy_getinfo(handle, CURLINFO_EFFECTIVE_URL, &effective_url);
  info.final_url = effective_url ? effective_url : url;
  info.etag = ResponseHeader(handle, "ETag").value_or("");
  curl_off_t filetime = -1;
  curl_easy_getinfo(handle, CURLINFO_FILETIME_T, &filetime);
  if (filetime >= 0) info.last_modified = static_cast<std::time_t>(filetime);
  return info;
}

// A status that answers no probe: kServerBusy where it may pass (a probe of a file the mount
// serves is then retried; the mount's own probe fails on it all the same), else kHttpStatus.
Status StatusError(CURL* handle, long code, const Exchange& exchange) {
  if (std::optional<Status> busy = ServerBusyStatus(handle, code, exchange)) return *busy;
  return Status(ErrorCode::kHttpStatus, DescribeStatus(exchange, code));
}

// What one request of a probe learned: the answer (the file, or an error), or a redirect to
// follow, or neither: HEAD could not tell, so ask again with a ranged GET.
struct ProbeStep {
  static ProbeStep Answer(Result<RemoteFileInfo> answer) {
    ProbeStep step;
    step.answer = std::move(answer);
    return step;
  }
  static ProbeStep RedirectTo(std::string url) {
    ProbeStep step;
    step.redirect_to = std::move(url);
    return step;
  }

  std::optional<Result<RemoteFileInfo>> answer;
  std::string redirect_to;
  bool proxy_failed = false;  // the request's proxy was at fault: another route may answer
};

// Where a probe step counts its request: under the URL the user gave.
struct Counted {
  Metrics* metrics = nullptr;
  const std::string& url;
};

// The time a probe's request may take: what the probe's budget leaves (at least 1 ms: 0 would
// mean no limit to libcurl).
void LimitTime(CURL* handle, std::chrono::milliseconds left) {
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, left.count())));
}

ProbeStep AskWithHead(const RequestSetup& requests, CURL* handle, const Request& request,
                      const Counted& counted, std::chrono::milliseconds left, bool& proxy_failed) {
  Exchange exchange;
  CurlSlist headers;
  if (!requests.Configure(handle, request, exchange, headers)) {
    return ProbeStep::Answer(Status(ErrorCode::kInternal, "out of memory"));
  }
  LimitTime(handle, left);
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(handle, CURLOPT_FILETIME, 1L);
  requests.EndOnStop(handle);
  const CURLcode rc = curl_easy_perform(handle);
  CountRequest(counted.metrics, counted.url, handle);
  proxy_failed = requests.Judge(request, handle, rc, exchange, false) == ProxyOutcome::kProxyFailed;
  if (rc == CURLE_ABORTED_BY_CALLBACK) return ProbeStep::Answer(RequestSetup::Stopped());
  if (rc != CURLE_OK) {
    return ProbeStep::Answer(TransportError(rc, exchange));
  }
  const long code = ResponseCode(handle);
  if (std::optional<Result<std::string>> location = RedirectLocation(handle, code, exchange)) {
    if (!location->ok()) return ProbeStep::Answer(location->status());
    return ProbeStep::RedirectTo(std::move(*location).value());
  }
  const std::string shown_url = RedactUrl(request.url);
  // 405/501: HEAD not allowed or not implemented. 403: presigned URLs sign the method, so a
  // URL signed for GET refuses HEAD. Any of these may still serve a ranged GET.
  if (code == 403 || code == 405 || code == 501) {
    spdlog::debug("{}: HEAD answered {}, probing with a ranged GET", shown_url, code);
    return {};
  }
  // Gone: a directory listing may still name the file, and the caller says ENOENT for it.
  if (code == 404 || code == 410) {
    return ProbeStep::Answer(Status(ErrorCode::kNotFound, DescribeStatus(exchange, code)));
  }
  if (code < 200 || code > 299) return ProbeStep::Answer(StatusError(handle, code, exchange));

  curl_off_t length = -1;
  curl_easy_getinfo(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  if (length < 0) {
    spdlog::debug("{}: HEAD gave no Content-Length, probing with a ranged GET", shown_url);
    return {};
  }

  RemoteFileInfo info = IdentityOfResponse(handle, request.url);
  info.size = static_cast<uint64_t>(length);
  const std::string accept_ranges = ResponseHeader(handle, "Accept-Ranges").value_or("");
  // "none" is a promise to ignore Range (RFC 9110 section 14.3); "bytes", or nothing, promises
  // nothing, and every answer is checked anyway.
  if (accept_ranges == "none") info.ranges_supported = false;
  spdlog::debug("{}: size {}, ETag {}, Accept-Ranges {}", shown_url, info.size,
                info.etag.empty() ? "none" : info.etag,
                accept_ranges.empty() ? "absent" : accept_ranges);
  return ProbeStep::Answer(std::move(info));
}

// Body sink for the probe's "bytes=0-0" GET: keeps at most one byte, and stops a server that
// ignores Range from sending the whole file.
size_t DiscardAfterFirstByte(char*, size_t size, size_t count, void* user) {
  size_t& received = *static_cast<size_t*>(user);
  received += size * count;
  return received <= 1 ? size * count : 0;
}

ProbeStep AskWithRangedGet(const RequestSetup& requests, CURL* handle, const Request& request,
                           const Counted& counted, std::chrono::milliseconds left,
                           bool& proxy_failed) {
  Exchange exchange;
  CurlSlist headers;
  const ByteRange first_byte{0, 0};
  if (!requests.Configure(handle, request, exchange, headers) ||
      !http::AppendHeader(headers, "Range: " + http::FormatRangeHeaderValue({&first_byte, 1}))) {
    return ProbeStep::Answer(Status(ErrorCode::kInternal, "out of memory"));
  }
  LimitTime(handle, left);
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_FILETIME, 1L);
  size_t received = 0;
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &DiscardAfterFirstByte);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &received);
  requests.EndOnStop(handle);
  const CURLcode rc = curl_easy_perform(handle);
  CountRequest(counted.metrics, counted.url, handle);
  proxy_failed = requests.Judge(request, handle, rc, exchange, false) == ProxyOutcome::kProxyFailed;
  if (rc == CURLE_ABORTED_BY_CALLBACK) return ProbeStep::Answer(RequestSetup::Stopped());
  const bool stopped_whole_body = rc == CURLE_WRITE_ERROR && received > 1;
  if (rc != CURLE_OK && !stopped_whole_body) {
    return ProbeStep::Answer(TransportError(rc, exchange));
  }

  const long code = ResponseCode(handle);
  if (std::optional<Result<std::string>> location = RedirectLocation(handle, code, exchange)) {
    if (!location->ok()) return ProbeStep::Answer(location->status());
    return ProbeStep::RedirectTo(std::move(*location).value());
  }
  RemoteFileInfo info = IdentityOfResponse(handle, request.url);

  if (code == 206 || code == 416) {
    // 416 is how a server answers "bytes=0-0" for an empty file: "Content-Range: bytes */0".
    const std::optional<std::string> header = ResponseHeader(handle, "Content-Range");
    if (!header) {
      return ProbeStep::Answer(Status(ErrorCode::kProtocolViolation,
                                      DescribeStatus(exchange, code) + " without Content-Range"));
    }
    Result<http::ContentRange> content_range = http::ParseContentRange(*header);
    if (!content_range.ok()) return ProbeStep::Answer(content_range.status());
    if (!content_range->complete_length) {
      return ProbeStep::Answer(
          Status(ErrorCode::kProtocolViolation, "Content-Range gives no total size"));
    }
    if (code == 416 ? *content_range->complete_length != 0 : content_range->range != first_byte) {
      return ProbeStep::Answer(Status(ErrorCode::kProtocolViolation,
                                      DescribeStatus(exchange, code) + " with Content-Range " +
                                          *header + " does not answer bytes=0-0"));
    }
    info.size = *content_range->complete_length;
    return ProbeStep::Answer(std::move(info));
  }
  if (code == 200) {
    curl_off_t length = -1;
    curl_easy_getinfo(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    if (length < 0) {
      return ProbeStep::Answer(Status(ErrorCode::kProtocolViolation,
                                      "server gives neither Content-Length nor Content-Range"));
    }
    // Not a warning of its own: the mount says what becomes of such a file, and the
    // whole-file fallback when it downloads it.
    spdlog::debug("{}: server ignores Range requests (200 OK to bytes=0-0)",
                  RedactUrl(request.url));
    info.size = static_cast<uint64_t>(length);
    info.ranges_supported = false;
    return ProbeStep::Answer(std::move(info));
  }
  return ProbeStep::Answer(StatusError(handle, code, exchange));
}

// One request of a probe, `ask` being AskWithHead or AskWithRangedGet, with whether its proxy
// failed kept in the step.
template <typename Ask>
ProbeStep ProbeWith(Ask ask, const RequestSetup& requests, CURL* handle, const Request& request,
                    const Counted& counted, std::chrono::milliseconds left) {
  bool proxy_failed = false;
  ProbeStep step = ask(requests, handle, request, counted, left, proxy_failed);
  step.proxy_failed = proxy_failed;
  return step;
}

}  // namespace

Result<RemoteFileInfo> ProbeUrl(CurlHandlePool& pool, const RequestSetup& requests,
                                const std::string& url, Metrics* metrics,
                                std::chrono::milliseconds budget) {
  const std::chrono::milliseconds limit = budget > std::chrono::milliseconds(0)
                                              ? std::min(budget, requests.options().request_timeout)
                                              : requests.options().request_timeout;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  Result<http::UrlTarget> original = http::ParseUrlTarget(url);
  if (!original.ok()) return original.status();
  const CurlHandlePool::Lease lease = pool.Acquire();
  if (!lease.get()) return Status(ErrorCode::kInternal, "curl_easy_init failed");

  // Each hop is one request with FOLLOWLOCATION off: its scheme and origin are checked before
  // anything is sent there, and credentials go only where they may.
  std::string current = url;
  long redirects = 0;
  bool ranged_get = false;  // once HEAD could not tell, the following hops ask with GET too
  // The route every hop takes, chosen by the key of the file's first bytes (so the probe asks
  // the cache that holds them); a proxy that fails starts the probe again on the next route.
  std::optional<ProxyRoutes::Choice> route;
  size_t failovers = 0;
  while (true) {
    Result<Request> request = requests.RequestFor(*original, current);
    if (!request.ok()) return request.status();
    if (!route)
      requests.Route(*request, RouteKey(url, 0));
    else
      request->route = route;
    route = request->route;
    // One budget for every hop: a chain of slow redirects must not take a timeout each.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds(0)) {
      return Status(ErrorCode::kTransport, "no answer within " + std::to_string(limit.count()) +
                                               " ms (after " + std::to_string(redirects) +
                                               " redirects)");
    }
    curl_easy_reset(lease.get());
    const Counted counted{.metrics = metrics, .url = url};
    ProbeStep step =
        ranged_get ? ProbeWith(AskWithRangedGet, requests, lease.get(), *request, counted, left)
                   : ProbeWith(AskWithHead, requests, lease.get(), *request, counted, left);
    if (step.proxy_failed && step.answer && !step.answer->ok() && requests.CanFailOver() &&
        ++failovers < requests.RouteCount()) {
      // Not the origin's answer: ask again from the start through the next route.
      current = url;
      redirects = 0;
      ranged_get = false;
      route.reset();
      continue;
    }
    if (step.answer) {
      if (step.answer->ok()) {
        (*step.answer)->url = url;
        (*step.answer)->final_url = request->url;
        spdlog::debug("{}: final URL {} after {} redirects", RedactUrl(url),
                      RedactUrl(request->url), redirects);
      }
      return std::move(*step.answer);
    }
    if (step.redirect_to.empty()) {
      ranged_get = true;  // the same URL again
      continue;
    }
    if (Status allowed = CheckRedirect(requests.options(), current, step.redirect_to, redirects);
        !allowed.ok()) {
      return allowed;
    }
    ++redirects;
    spdlog::debug("{}: redirected to {}", RedactUrl(current), RedactUrl(step.redirect_to));
    current = std::move(step.redirect_to);
  }
}

}  // namespace rangefs::http
