#include "rangefs/http_range_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "http/curl_handle.h"
#include "http/http_engine.h"
#include "http/multi_range_transfer.h"
#include "http/range_get.h"
#include "http/range_transfer.h"
#include "http/request.h"
#include "http/response.h"
#include "http/url_target.h"
#include "rangefs/http_protocol.h"
#include "rangefs/http_validators.h"
#include "rangefs/multipart.h"
#include "rangefs/redact.h"
#include "rangefs/retry_after.h"

namespace rangefs::http {
namespace {

// RFC 9110 suggests clients follow at most a handful of redirects; 10 matches curl's CLI.
constexpr long kMaxRedirects = 10;

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

// The redirect statuses that name another location for the same request (RFC 9110 15.4).
bool IsRedirect(long code) {
  return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

// Where a redirect answer leads (absolute: libcurl resolves a relative Location), or an error
// when it names no usable location. Empty when the answer is not a redirect.
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
};

class HttpRangeSource final : public RangeSource {
 public:
  explicit HttpRangeSource(HttpOptions options)
      : options_(std::move(options)), engine_(options_.max_parallel_prefetch) {}

  Result<RemoteFileInfo> Probe(const std::string& url) override;
  void StartFetch(const RemoteFileInfo& file, const ByteRange& range, FetchPriority priority,
                  std::shared_ptr<RangeSink> sink) override;
  void StartMultiFetch(const RemoteFileInfo& file, const std::vector<ByteRange>& ranges,
                       FetchPriority priority,
                       std::vector<std::shared_ptr<RangeSink>> sinks) override;

 private:
  // Whether the probe may follow a redirect from `from` to `to`, the redirect number
  // `redirects` + 1. The error names both URLs, redacted.
  Status CheckRedirect(std::string_view from, std::string_view to, long redirects) const;
  ProbeStep ProbeWithHead(CURL* handle, const Request& request);
  ProbeStep ProbeWithRangedGet(CURL* handle, const Request& request);

  const HttpOptions options_;
  const RequestSetup requests_{options_};
  // Declared before the engine: the engine's transfers return their handles to the pool, so the
  // pool must outlive the engine's shutdown.
  LieLog lies_;
  MultiRangeMemory multi_ranges_;
  CurlHandlePool pool_;
  http::HttpEngine engine_;
};

Status HttpRangeSource::CheckRedirect(std::string_view from, std::string_view to,
                                      long redirects) const {
  const std::string hop = "redirect from " + RedactUrl(from) + " to " + RedactUrl(to);
  if (redirects >= kMaxRedirects) {
    return Status(ErrorCode::kHttpStatus, "more than " + std::to_string(kMaxRedirects) +
                                              " redirects (the next: " + hop + ")");
  }
  const std::string scheme = http::UrlScheme(to);
  if (scheme != "http" && scheme != "https") {
    return Status(ErrorCode::kHttpStatus, hop + " refused: only http and https are followed");
  }
  if (scheme == "http" && http::UrlScheme(from) == "https" && !options_.allow_insecure_redirect) {
    return Status(ErrorCode::kHttpStatus, hop +
                                              " refused: it leaves https for unencrypted http "
                                              "(--allow-insecure-redirect allows it)");
  }
  if (Result<http::UrlTarget> target = http::ParseUrlTarget(to); !target.ok()) {
    return Status(ErrorCode::kHttpStatus, hop + " refused: " + target.status().message());
  }
  return Status::Ok();
}

Result<RemoteFileInfo> HttpRangeSource::Probe(const std::string& url) {
  Result<http::UrlTarget> original = http::ParseUrlTarget(url);
  if (!original.ok()) return original.status();
  const CurlHandlePool::Lease lease = pool_.Acquire();
  if (!lease.get()) return Status(ErrorCode::kInternal, "curl_easy_init failed");

  // Each hop is one request with FOLLOWLOCATION off: its scheme and origin are checked before
  // anything is sent there, and credentials go only where they may.
  std::string current = url;
  long redirects = 0;
  bool ranged_get = false;  // once HEAD could not tell, the following hops ask with GET too
  while (true) {
    Result<Request> request = requests_.RequestFor(*original, current);
    if (!request.ok()) return request.status();
    curl_easy_reset(lease.get());
    ProbeStep step = ranged_get ? ProbeWithRangedGet(lease.get(), *request)
                                : ProbeWithHead(lease.get(), *request);
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
    if (Status allowed = CheckRedirect(current, step.redirect_to, redirects); !allowed.ok()) {
      return allowed;
    }
    ++redirects;
    spdlog::debug("{}: redirected to {}", RedactUrl(current), RedactUrl(step.redirect_to));
    current = std::move(step.redirect_to);
  }
}

ProbeStep HttpRangeSource::ProbeWithHead(CURL* handle, const Request& request) {
  Exchange exchange;
  CurlSlist headers;
  if (!requests_.Configure(handle, request, exchange, headers)) {
    return ProbeStep::Answer(Status(ErrorCode::kInternal, "out of memory"));
  }
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(handle, CURLOPT_FILETIME, 1L);
  if (const CURLcode rc = curl_easy_perform(handle); rc != CURLE_OK) {
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
  if (code < 200 || code > 299) {
    return ProbeStep::Answer(Status(ErrorCode::kHttpStatus, DescribeStatus(exchange, code)));
  }

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

ProbeStep HttpRangeSource::ProbeWithRangedGet(CURL* handle, const Request& request) {
  Exchange exchange;
  CurlSlist headers;
  const ByteRange first_byte{0, 0};
  if (!requests_.Configure(handle, request, exchange, headers) ||
      !http::AppendHeader(headers, "Range: " + http::FormatRangeHeaderValue({&first_byte, 1}))) {
    return ProbeStep::Answer(Status(ErrorCode::kInternal, "out of memory"));
  }
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_FILETIME, 1L);
  size_t received = 0;
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &DiscardAfterFirstByte);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &received);
  const CURLcode rc = curl_easy_perform(handle);
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
    spdlog::warn("{}: server ignores Range requests (200 OK to bytes=0-0)", RedactUrl(request.url));
    info.size = static_cast<uint64_t>(length);
    info.ranges_supported = false;
    return ProbeStep::Answer(std::move(info));
  }
  return ProbeStep::Answer(Status(ErrorCode::kHttpStatus, DescribeStatus(exchange, code)));
}

void HttpRangeSource::StartFetch(const RemoteFileInfo& file, const ByteRange& range,
                                 FetchPriority priority, std::shared_ptr<RangeSink> sink) {
  if (range.last < range.first || range.last >= file.size) {
    return sink->OnDone(Status(ErrorCode::kInternal, "fetch of a range outside the file"));
  }
  if (!file.ranges_supported && (range.first != 0 || range.last + 1 != file.size)) {
    // The whole file is the one range such a server can answer (WholeFileFallback asks).
    return sink->OnDone(
        Status(ErrorCode::kRangeNotSupported, "server does not support Range requests"));
  }
  // Straight to the probe's final URL, with credentials only if that is the user's origin.
  Result<http::UrlTarget> original = http::ParseUrlTarget(file.url);
  if (!original.ok()) return sink->OnDone(original.status());
  Result<Request> request = requests_.RequestFor(*original, file.final_url);
  if (!request.ok()) return sink->OnDone(request.status());
  CurlHandlePool::Lease lease = pool_.Acquire();
  if (!lease.get()) return sink->OnDone(Status(ErrorCode::kInternal, "curl_easy_init failed"));
  auto transfer =
      std::make_unique<RangeTransfer>(std::move(lease), file, range, std::move(sink), lies_);
  if (!requests_.Configure(transfer->handle(), *request, transfer->exchange(),
                           transfer->headers()) ||
      !transfer->Configure(options_.stall_timeout)) {
    return transfer->OnComplete(CURLE_OUT_OF_MEMORY);
  }
  engine_.Submit(std::move(transfer), priority == FetchPriority::kPrefetch);
}

void HttpRangeSource::StartMultiFetch(const RemoteFileInfo& file,
                                      const std::vector<ByteRange>& ranges, FetchPriority priority,
                                      std::vector<std::shared_ptr<RangeSink>> sinks) {
  Result<http::UrlTarget> target = http::ParseUrlTarget(file.final_url);
  const bool one_at_a_time = ranges.size() < 2 || ranges.size() != sinks.size() ||
                             options_.max_ranges < 2 || !file.ranges_supported || !target.ok() ||
                             multi_ranges_.IsBad(target->origin);
  if (one_at_a_time) return RangeSource::StartMultiFetch(file, ranges, priority, std::move(sinks));
  for (const ByteRange& range : ranges) {
    if (range.last < range.first || range.last >= file.size) {
      return RangeSource::StartMultiFetch(file, ranges, priority, std::move(sinks));
    }
  }
  // In file order, as servers answer best; at most max_ranges a request.
  std::vector<size_t> order(ranges.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&ranges](size_t a, size_t b) { return ranges[a].first < ranges[b].first; });
  Result<http::UrlTarget> original = http::ParseUrlTarget(file.url);
  for (size_t begin = 0; begin < order.size(); begin += options_.max_ranges) {
    const size_t end = std::min(order.size(), begin + options_.max_ranges);
    std::vector<ByteRange> group_ranges;
    std::vector<std::shared_ptr<RangeSink>> group_sinks;
    for (size_t k = begin; k < end; ++k) {
      group_ranges.push_back(ranges[order[k]]);
      group_sinks.push_back(std::move(sinks[order[k]]));
    }
    if (group_ranges.size() == 1) {
      StartFetch(file, group_ranges[0], priority, std::move(group_sinks[0]));
      continue;
    }
    const auto fail_all = [&group_sinks](const Status& status) {
      for (const std::shared_ptr<RangeSink>& sink : group_sinks) sink->OnDone(status);
    };
    if (!original.ok()) {
      fail_all(original.status());
      continue;
    }
    Result<Request> request = requests_.RequestFor(*original, file.final_url);
    if (!request.ok()) {
      fail_all(request.status());
      continue;
    }
    CurlHandlePool::Lease lease = pool_.Acquire();
    if (!lease.get()) {
      fail_all(Status(ErrorCode::kInternal, "curl_easy_init failed"));
      continue;
    }
    auto transfer =
        std::make_unique<MultiRangeTransfer>(std::move(lease), file, std::move(group_ranges),
                                             std::move(group_sinks), multi_ranges_, target->origin);
    if (!requests_.Configure(transfer->handle(), *request, transfer->exchange(),
                             transfer->headers()) ||
        !transfer->Configure(options_.stall_timeout)) {
      transfer->OnComplete(CURLE_OUT_OF_MEMORY);
      continue;
    }
    engine_.Submit(std::move(transfer), priority == FetchPriority::kPrefetch);
  }
}

}  // namespace
}  // namespace rangefs::http

namespace rangefs {

std::unique_ptr<RangeSource> NewHttpRangeSource(const HttpOptions& options) {
  return std::make_unique<http::HttpRangeSource>(options);
}

}  // namespace rangefs
