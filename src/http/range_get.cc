#include "http/range_get.h"

#include <ctime>
#include <string>

#include "http/protocol.h"
#include "http/redirect.h"
#include "http/validators.h"

namespace rangefs::http {

namespace {

// The validators of a response, without its size (which depends on the status).
http::ResponseIdentity IdentityOf(CURL* easy) {
  http::ResponseIdentity identity;
  identity.etag = ResponseHeader(easy, "ETag");
  curl_off_t filetime = -1;
  curl_easy_getinfo(easy, CURLINFO_FILETIME_T, &filetime);
  if (filetime >= 0) identity.last_modified = static_cast<std::time_t>(filetime);
  return identity;
}

// What a range request's status says when it is neither 200 nor 206 nor 412 nor 416, and is
// not final: a redirect (ask again where it leads), an expired redirect target (resolve the URL
// again), or a server that is busy or failing for now (retry, after Retry-After if it says).
// nullopt for the statuses JudgeRangeStatus classifies.
std::optional<Status> FailureStatus(const HttpOptions& options, CURL* easy, long code,
                                    const Exchange& exchange, const RemoteFileInfo& file) {
  if (IsRedirect(code)) {
    // Servers that sign URLs for their storage answer HEAD themselves and redirect each GET:
    // the redirect is checked here and followed by the retry layer, which keeps the hop count
    // and remembers the target (libcurl's FOLLOWLOCATION would send the user's headers
    // anywhere).
    return RangeRedirect(options, file.final_url, DescribeStatus(exchange, code),
                         ResponseHeader(easy, "Location"));
  }
  if ((code == 403 || code == 404 || code == 410) && file.final_url != file.url) {
    return Status(ErrorCode::kUrlExpired,
                  DescribeStatus(exchange, code) + " from the address a redirect led to");
  }
  return ServerBusyStatus(easy, code, exchange);
}

}  // namespace

Result<RangeAnswer> JudgeRangeStatus(const HttpOptions& options, CURL* easy, long code,
                                     const Exchange& exchange, const RemoteFileInfo& file) {
  // 412: our If-Unmodified-Since failed, so the file changed.
  if (code == 412) {
    return Status(ErrorCode::kRemoteChanged, DescribeStatus(exchange, code) + " to " +
                                                 http::RangePreconditionHeader(file).value_or(
                                                     "a request without precondition"));
  }
  if (code == 200) return RangeAnswer::kWholeFile;
  if (std::optional<Status> failed = FailureStatus(options, easy, code, exchange, file)) {
    return *std::move(failed);
  }
  if (code == 206) return RangeAnswer::kPartial;
  if (code == 416) return RangeAnswer::kUnsatisfiable;
  return RangeAnswer::kUnusable;
}

Status UnusableStatus(const Exchange& exchange, long code) {
  return Status(ErrorCode::kHttpStatus, DescribeStatus(exchange, code));
}

Status CheckAnswerVersion(CURL* easy, const RemoteFileInfo& file,
                          std::optional<uint64_t> file_size) {
  http::ResponseIdentity identity = IdentityOf(easy);
  identity.size = file_size;
  return http::CheckSameVersion(file, identity);
}

Status CheckIdentityEncoding(CURL* easy, long code) {
  const std::string encoding = ResponseHeader(easy, "Content-Encoding").value_or("");
  if (http::IsIdentityEncoding(encoding)) return Status::Ok();
  return Status(ErrorCode::kProtocolViolation,
                std::to_string(code) + " with Content-Encoding " + encoding);
}

std::optional<uint64_t> ContentLength(CURL* easy) {
  curl_off_t length = -1;
  curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  if (length < 0) return std::nullopt;
  return static_cast<uint64_t>(length);
}

void StallWatch::Arm(CURL* easy, const ProgressLimits& limits) {
  watch_.emplace(limits);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &StallWatch::OnProgress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, this);
}

int StallWatch::OnProgress(void* user, curl_off_t, curl_off_t downloaded, curl_off_t, curl_off_t) {
  StallWatch& self = *static_cast<StallWatch*>(user);
  if (!self.watch_ || downloaded < 0) return 0;
  self.stalled_ =
      self.watch_->OnProgress(ProgressWatch::Clock::now(), static_cast<uint64_t>(downloaded));
  return self.stalled_ ? 1 : 0;  // 1 aborts: CURLE_ABORTED_BY_CALLBACK
}

bool ConfigureRangeGet(CURL* easy, CurlSlist& headers, std::span<const ByteRange> ranges,
                       const RemoteFileInfo& file, curl_write_callback on_body, void* body_data,
                       StallWatch& stall, const ProgressLimits& limits) {
  if (!http::AppendHeader(headers, "Range: " + http::FormatRangeHeaderValue(ranges))) {
    return false;
  }
  if (const std::optional<std::string> precondition = http::RangePreconditionHeader(file);
      precondition && !http::AppendHeader(headers, *precondition)) {
    return false;
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(easy, CURLOPT_FILETIME, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, body_data);
  // With HTTP/2, wait for a stream on the existing connection rather than open another.
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  // A response that delivers nothing for a while, or too little, is cut off (and retried from
  // where it stopped): a stalled or trickling server must not hold a reader for the whole
  // request timeout.
  stall.Arm(easy, limits);
  return true;
}

Status CheckVersionOfUnsatisfiable(CURL* easy, const std::optional<ContentRange>& content_range,
                                   const RemoteFileInfo& file) {
  return CheckAnswerVersion(easy, file,
                            content_range ? content_range->complete_length : std::nullopt);
}

bool StoppedByShutdown(CURLcode result, const StallWatch& stall) {
  return result == CURLE_ABORTED_BY_CALLBACK && !stall.stalled();
}

std::optional<Status> TransferFailure(CURLcode result, const StallWatch& stall,
                                      const Exchange& exchange) {
  if (stall.stalled()) return *stall.stalled();
  if (StoppedByShutdown(result, stall)) {
    // Neither ours nor the stall watch's: the engine is shutting down. Nothing to retry.
    return Status(ErrorCode::kInternal, "cancelled: rangefs is stopping");
  }
  if (result != CURLE_OK) return TransportError(result, exchange);
  return std::nullopt;
}

}  // namespace rangefs::http
