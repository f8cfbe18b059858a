#include "rangefs/http_range_source.h"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <cstring>
#include <optional>

#include "http/curl_handle.h"
#include "http/http_engine.h"
#include "rangefs/http_protocol.h"
#include "rangefs/http_validators.h"

namespace rangefs {
namespace {

using http::CurlHandlePool;
using http::CurlSlist;

// Larger receive buffers mean fewer write callbacks and syscalls per megabyte; 256 KiB is where
// loopback throughput stops improving in libcurl's own measurements of CURLOPT_BUFFERSIZE.
constexpr long kReceiveBufferBytes = 256 * 1024;
// RFC 9110 suggests clients follow at most a handful of redirects; 10 matches curl's CLI.
constexpr long kMaxRedirects = 10;

// What one request/response exchange collected besides its body.
struct Exchange {
  std::array<char, CURL_ERROR_SIZE> error{};
  std::string status_line;  // of the last response, e.g. "HTTP/1.1 206 Partial Content"
};

size_t OnHeaderLine(char* data, size_t size, size_t count, void* user) {
  const size_t length = size * count;
  std::string_view line(data, length);
  if (line.starts_with("HTTP/")) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    static_cast<Exchange*>(user)->status_line = line;
  }
  return length;
}

std::optional<std::string> ResponseHeader(CURL* handle, const char* name) {
  curl_header* header = nullptr;
  // request -1: the last response, after any redirects.
  if (curl_easy_header(handle, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK) {
    return std::nullopt;
  }
  return std::string(header->value);
}

long ResponseCode(CURL* handle) {
  long code = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

// "HTTP 404 Not Found" from "HTTP/1.1 404 Not Found"; HTTP/2 has no reason phrase.
std::string DescribeStatus(const Exchange& exchange, long code) {
  const size_t space = exchange.status_line.find(' ');
  if (space == std::string::npos) return "HTTP " + std::to_string(code);
  return "HTTP " + exchange.status_line.substr(space + 1);
}

Status TransportError(CURLcode code, const Exchange& exchange) {
  const char* detail = exchange.error[0] != '\0' ? exchange.error.data() : curl_easy_strerror(code);
  return Status(ErrorCode::kTransport, detail);
}

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

class HttpRangeSource final : public RangeSource {
 public:
  explicit HttpRangeSource(HttpOptions options)
      : options_(std::move(options)), engine_(options_.max_parallel_prefetch) {}

  Result<RemoteFileInfo> Probe(const std::string& url) override;
  void StartFetch(const RemoteFileInfo& file, const ByteRange& range, FetchPriority priority,
                  std::shared_ptr<RangeSink> sink) override;

 private:
  // Options every request shares: URL, redirects limited to http(s), timeouts, callbacks.
  void Configure(CURL* handle, const std::string& url, Exchange& exchange) const;
  // Empty when HEAD cannot tell and a ranged GET should be tried instead.
  std::optional<Result<RemoteFileInfo>> ProbeWithHead(CURL* handle, const std::string& url);
  Result<RemoteFileInfo> ProbeWithRangedGet(CURL* handle, const std::string& url);

  const HttpOptions options_;
  // Declared before the engine: the engine's transfers return their handles to the pool, so the
  // pool must outlive the engine's shutdown.
  CurlHandlePool pool_;
  http::HttpEngine engine_;
};

void HttpRangeSource::Configure(CURL* handle, const std::string& url, Exchange& exchange) const {
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);  // signals and threads do not mix
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(handle, CURLOPT_MAXREDIRS, kMaxRedirects);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(handle, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  curl_easy_setopt(handle, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, exchange.error.data());
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &OnHeaderLine);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &exchange);
  // No CURLOPT_ACCEPT_ENCODING: without Accept-Encoding the server sends identity bytes, and
  // range offsets mean offsets into the file itself.
}

Result<RemoteFileInfo> HttpRangeSource::Probe(const std::string& url) {
  const CurlHandlePool::Lease lease = pool_.Acquire();
  if (!lease.get()) return Status(ErrorCode::kInternal, "curl_easy_init failed");
  if (std::optional<Result<RemoteFileInfo>> info = ProbeWithHead(lease.get(), url)) {
    return std::move(*info);
  }
  curl_easy_reset(lease.get());
  return ProbeWithRangedGet(lease.get(), url);
}

std::optional<Result<RemoteFileInfo>> HttpRangeSource::ProbeWithHead(CURL* handle,
                                                                     const std::string& url) {
  Exchange exchange;
  Configure(handle, url, exchange);
  curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(handle, CURLOPT_FILETIME, 1L);
  if (const CURLcode rc = curl_easy_perform(handle); rc != CURLE_OK) {
    return TransportError(rc, exchange);
  }
  const long code = ResponseCode(handle);
  // 405/501: HEAD not allowed or not implemented. 403: presigned URLs sign the method, so a
  // URL signed for GET refuses HEAD. Any of these may still serve a ranged GET.
  if (code == 403 || code == 405 || code == 501) {
    spdlog::debug("{}: HEAD answered {}, probing with a ranged GET", url, code);
    return std::nullopt;
  }
  if (code < 200 || code > 299)
    return Status(ErrorCode::kHttpStatus, DescribeStatus(exchange, code));

  curl_off_t length = -1;
  curl_easy_getinfo(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  if (length < 0) {
    spdlog::debug("{}: HEAD gave no Content-Length, probing with a ranged GET", url);
    return std::nullopt;
  }

  RemoteFileInfo info = IdentityOfResponse(handle, url);
  info.size = static_cast<uint64_t>(length);
  const std::string accept_ranges = ResponseHeader(handle, "Accept-Ranges").value_or("");
  spdlog::debug("{}: size {}, ETag {}, Accept-Ranges {} (not relied upon), final URL {}", url,
                info.size, info.etag.empty() ? "none" : info.etag,
                accept_ranges.empty() ? "absent" : accept_ranges, info.final_url);
  return info;
}

// Body sink for the probe's "bytes=0-0" GET: keeps at most one byte, and stops a server that
// ignores Range from sending the whole file.
size_t DiscardAfterFirstByte(char*, size_t size, size_t count, void* user) {
  size_t& received = *static_cast<size_t*>(user);
  received += size * count;
  return received <= 1 ? size * count : 0;
}

Result<RemoteFileInfo> HttpRangeSource::ProbeWithRangedGet(CURL* handle, const std::string& url) {
  Exchange exchange;
  Configure(handle, url, exchange);
  curl_easy_setopt(handle, CURLOPT_FILETIME, 1L);
  const ByteRange first_byte{0, 0};
  CurlSlist headers;
  if (!http::AppendHeader(headers, "Range: " + http::FormatRangeHeaderValue({&first_byte, 1}))) {
    return Status(ErrorCode::kInternal, "out of memory");
  }
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  size_t received = 0;
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &DiscardAfterFirstByte);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &received);
  const CURLcode rc = curl_easy_perform(handle);
  const bool stopped_whole_body = rc == CURLE_WRITE_ERROR && received > 1;
  if (rc != CURLE_OK && !stopped_whole_body) return TransportError(rc, exchange);

  RemoteFileInfo info = IdentityOfResponse(handle, url);

  const long code = ResponseCode(handle);
  if (code == 206 || code == 416) {
    // 416 is how a server answers "bytes=0-0" for an empty file: "Content-Range: bytes */0".
    const std::optional<std::string> header = ResponseHeader(handle, "Content-Range");
    if (!header) {
      return Status(ErrorCode::kProtocolViolation,
                    DescribeStatus(exchange, code) + " without Content-Range");
    }
    Result<http::ContentRange> content_range = http::ParseContentRange(*header);
    if (!content_range.ok()) return content_range.status();
    if (!content_range->complete_length) {
      return Status(ErrorCode::kProtocolViolation, "Content-Range gives no total size");
    }
    if (code == 416 ? *content_range->complete_length != 0 : content_range->range != first_byte) {
      return Status(ErrorCode::kProtocolViolation, DescribeStatus(exchange, code) +
                                                       " with Content-Range " + *header +
                                                       " does not answer bytes=0-0");
    }
    info.size = *content_range->complete_length;
    return info;
  }
  if (code == 200) {
    curl_off_t length = -1;
    curl_easy_getinfo(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    if (length < 0) {
      return Status(ErrorCode::kProtocolViolation,
                    "server gives neither Content-Length nor Content-Range");
    }
    spdlog::warn("{}: server ignores Range requests (200 OK to bytes=0-0)", url);
    info.size = static_cast<uint64_t>(length);
    info.ranges_supported = false;
    return info;
  }
  return Status(ErrorCode::kHttpStatus, DescribeStatus(exchange, code));
}

// One ranged GET in flight on the engine: verifies the answer before the first body byte is
// passed on, then streams the body into the sink.
class RangeTransfer final : public http::Transfer {
 public:
  RangeTransfer(CurlHandlePool::Lease lease, const RemoteFileInfo& file, const ByteRange& range,
                std::shared_ptr<RangeSink> sink)
      : lease_(std::move(lease)),
        file_(file),
        range_(range),
        sink_(std::move(sink)),
        start_(std::chrono::steady_clock::now()) {}

  // Sets what differs from the shared configuration; false when out of memory.
  bool Configure() {
    if (!http::AppendHeader(headers_, "Range: " + http::FormatRangeHeaderValue({&range_, 1}))) {
      return false;
    }
    if (const std::optional<std::string> precondition = http::RangePreconditionHeader(file_);
        precondition && !http::AppendHeader(headers_, *precondition)) {
      return false;
    }
    curl_easy_setopt(handle(), CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(handle(), CURLOPT_FILETIME, 1L);  // Last-Modified, to compare versions
    curl_easy_setopt(handle(), CURLOPT_WRITEFUNCTION, &RangeTransfer::OnBody);
    curl_easy_setopt(handle(), CURLOPT_WRITEDATA, this);
    // With HTTP/2, wait for a stream on the existing connection rather than open another.
    curl_easy_setopt(handle(), CURLOPT_PIPEWAIT, 1L);
    return true;
  }

  Exchange& exchange() { return exchange_; }
  const std::string& url() const { return file_.final_url; }
  CURL* handle() const override { return lease_.get(); }

  void OnComplete(CURLcode result) override {
    Status status;
    if (!verdict_.ok()) {
      status = verdict_;
    } else if (result != CURLE_OK) {
      status = TransportError(result, exchange_);
    } else if (!headers_checked_) {
      status = CheckHeaders();  // no body at all: judge the headers now
      if (status.ok()) status = Status(ErrorCode::kProtocolViolation, "206 with an empty body");
    } else if (received_ != range_.length()) {
      status = Status(ErrorCode::kProtocolViolation,
                      "body ended after " + std::to_string(received_) + " of " +
                          std::to_string(range_.length()) + " bytes");
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start_);
    if (status.ok()) {
      spdlog::debug("GET {} bytes={}-{}: {} bytes in {} ms", file_.final_url, range_.first,
                    range_.last, received_, elapsed.count());
    } else {
      spdlog::warn("GET {} bytes={}-{} failed after {} ms: {}", file_.final_url, range_.first,
                   range_.last, elapsed.count(), status.ToString());
    }
    sink_->OnDone(status);
  }

 private:
  // Everything but the body length is known when the first body byte arrives: judge it there,
  // so a server that ignores Range is cut off after one buffer, not after the whole file.
  Status CheckHeaders() const {
    CURL* const easy = handle();
    const long code = ResponseCode(easy);
    // 412: our If-Unmodified-Since failed, so the file changed.
    if (code == 412) {
      return Status(ErrorCode::kRemoteChanged, DescribeStatus(exchange_, code) + " to " +
                                                   http::RangePreconditionHeader(file_).value_or(
                                                       "a request without precondition"));
    }
    if (code == 200) {
      // A failed If-Range and a server that ignores Range both answer 200 with the whole
      // file; the validators tell which.
      http::ResponseIdentity identity = IdentityOf(easy);
      curl_off_t length = -1;
      curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      if (length >= 0) identity.size = static_cast<uint64_t>(length);
      if (Status same = http::CheckSameVersion(file_, identity); !same.ok()) return same;
      return Status(ErrorCode::kRangeNotSupported,
                    "server ignored the Range header (200 OK with the whole file)");
    }
    std::optional<http::ContentRange> content_range;
    if (const std::optional<std::string> header = ResponseHeader(easy, "Content-Range")) {
      Result<http::ContentRange> parsed = http::ParseContentRange(*header);
      if (!parsed.ok()) return parsed.status();
      content_range = *parsed;
    }
    if (code == 416) {
      // The range lies inside the file we know, so a 416 whose total differs means the file
      // shrank.
      http::ResponseIdentity identity = IdentityOf(easy);
      if (content_range) identity.size = content_range->complete_length;
      if (Status same = http::CheckSameVersion(file_, identity); !same.ok()) return same;
      return Status(ErrorCode::kRangeNotSatisfiable,
                    DescribeStatus(exchange_, code) + ", Content-Range " +
                        ResponseHeader(easy, "Content-Range").value_or("absent"));
    }
    if (code != 206) return Status(ErrorCode::kHttpStatus, DescribeStatus(exchange_, code));

    const std::string encoding = ResponseHeader(easy, "Content-Encoding").value_or("");
    if (!http::IsIdentityEncoding(encoding)) {
      return Status(ErrorCode::kProtocolViolation, "206 with Content-Encoding " + encoding);
    }
    if (!content_range) return Status(ErrorCode::kProtocolViolation, "206 without Content-Range");
    // Another version before a wrong slice: a changed file is the likelier story, and it makes
    // rangefs look at the file again.
    http::ResponseIdentity identity = IdentityOf(easy);
    identity.size = content_range->complete_length;
    if (Status same = http::CheckSameVersion(file_, identity); !same.ok()) return same;
    if (Status match = http::CheckContentRangeMatches(*content_range, range_, file_.size);
        !match.ok()) {
      return match;
    }
    curl_off_t length = -1;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    if (length >= 0 && static_cast<uint64_t>(length) != range_.length()) {
      return Status(ErrorCode::kProtocolViolation, "Content-Length " + std::to_string(length) +
                                                       " for a range of " +
                                                       std::to_string(range_.length()) + " bytes");
    }
    return Status::Ok();
  }

  // The validators of the response, without its size (which depends on the status).
  static http::ResponseIdentity IdentityOf(CURL* easy) {
    http::ResponseIdentity identity;
    identity.etag = ResponseHeader(easy, "ETag");
    curl_off_t filetime = -1;
    curl_easy_getinfo(easy, CURLINFO_FILETIME_T, &filetime);
    if (filetime >= 0) identity.last_modified = static_cast<std::time_t>(filetime);
    return identity;
  }

  static size_t OnBody(char* data, size_t size, size_t count, void* user) {
    RangeTransfer& self = *static_cast<RangeTransfer*>(user);
    const size_t length = size * count;
    if (!self.headers_checked_) {
      self.headers_checked_ = true;
      self.verdict_ = self.CheckHeaders();
      if (!self.verdict_.ok()) return 0;  // abort: CURLE_WRITE_ERROR
    }
    if (length > self.range_.length() - self.received_) {
      self.verdict_ = Status(ErrorCode::kProtocolViolation,
                             "body longer than the " + std::to_string(self.range_.length()) +
                                 " bytes the Content-Range promised");
      return 0;
    }
    self.received_ += length;
    if (!self.sink_->OnData({reinterpret_cast<const std::byte*>(data), length})) {
      self.verdict_ = Status(ErrorCode::kInternal, "transfer abandoned by its reader");
      return 0;
    }
    return length;
  }

  CurlHandlePool::Lease lease_;
  const RemoteFileInfo file_;
  const ByteRange range_;
  const std::shared_ptr<RangeSink> sink_;
  const std::chrono::steady_clock::time_point start_;
  Exchange exchange_;
  CurlSlist headers_;
  bool headers_checked_ = false;
  uint64_t received_ = 0;
  Status verdict_;  // first problem found; the transfer is aborted when it is set
};

void HttpRangeSource::StartFetch(const RemoteFileInfo& file, const ByteRange& range,
                                 FetchPriority priority, std::shared_ptr<RangeSink> sink) {
  if (range.last < range.first || range.last >= file.size) {
    return sink->OnDone(Status(ErrorCode::kInternal, "fetch of a range outside the file"));
  }
  if (!file.ranges_supported) {
    return sink->OnDone(
        Status(ErrorCode::kRangeNotSupported,
               "server does not support Range requests; whole-file reads are not implemented"));
  }
  CurlHandlePool::Lease lease = pool_.Acquire();
  if (!lease.get()) return sink->OnDone(Status(ErrorCode::kInternal, "curl_easy_init failed"));
  auto transfer = std::make_unique<RangeTransfer>(std::move(lease), file, range, std::move(sink));
  Configure(transfer->handle(), transfer->url(), transfer->exchange());
  if (!transfer->Configure()) {
    return transfer->OnComplete(CURLE_OUT_OF_MEMORY);
  }
  engine_.Submit(std::move(transfer), priority == FetchPriority::kPrefetch);
}

}  // namespace

std::unique_ptr<RangeSource> NewHttpRangeSource(const HttpOptions& options) {
  return std::make_unique<HttpRangeSource>(options);
}

}  // namespace rangefs
