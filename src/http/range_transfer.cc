#include "http/range_transfer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <span>
#include <utility>

#include "http/protocol.h"
#include "rangefs/redact.h"

namespace rangefs::http {
namespace {

// Failures a server's answer is to blame for, rather than the network or the server's state.
bool IsLie(const Status& status) {
  return status.code() == ErrorCode::kProtocolViolation ||
         status.code() == ErrorCode::kRangeNotSatisfiable;
}

}  // namespace

RangeTransfer::RangeTransfer(CurlHandlePool::Lease lease, const HttpOptions& options,
                             const RemoteFileInfo& file, const ByteRange& range,
                             std::shared_ptr<RangeSink> sink, LieLog& lies, Metrics* metrics)
    : lease_(std::move(lease)),
      options_(options),
      file_(file),
      range_(range),
      sink_(std::move(sink)),
      lies_(lies),
      metrics_(metrics),
      start_(std::chrono::steady_clock::now()) {}

bool RangeTransfer::Configure(const ProgressLimits& limits) {
  return ConfigureRangeGet(handle(), headers_, {&range_, 1}, file_, &RangeTransfer::OnBody, this,
                           stall_, limits);
}

void RangeTransfer::OnComplete(CURLcode result) {
  if (!StoppedByShutdown(result, stall_)) CountRequest(metrics_, file_.url, handle());
  Status status;
  if (!verdict_.ok()) {
    status = verdict_;
  } else if (std::optional<Status> failed = TransferFailure(result, stall_, exchange_)) {
    status = *std::move(failed);
  } else if (!headers_checked_) {
    status = CheckHeaders();  // no body at all: judge the headers now
    if (status.ok()) status = Status(ErrorCode::kTruncated, "206 with an empty body");
  } else if (received_ != range_.length()) {
    status = Status(ErrorCode::kTruncated, "body ended after " + std::to_string(received_) +
                                               " of " + std::to_string(range_.length()) + " bytes");
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start_);
  const std::string url = RedactUrl(file_.final_url);
  if (status.ok()) {
    spdlog::debug("GET {} bytes={}-{}: {} bytes in {} ms", url, range_.first, range_.last,
                  received_, elapsed.count());
  } else if (status.code() == ErrorCode::kRedirected || status.code() == ErrorCode::kInternal) {
    // A redirect is followed by the retry layer, which logs what it makes of it; kInternal is
    // rangefs's own end of the transfer (it is stopping, or the reader gave up on the bytes),
    // nothing about the server.
    spdlog::debug("GET {} bytes={}-{}: {}", url, range_.first, range_.last, status.message());
  } else if (IsLie(status) && lies_.First(file_.url)) {
    spdlog::warn(
        "{}: the server answered a range request wrongly (further wrong answers for "
        "this file are logged at info level): GET bytes={}-{}: {}",
        url, range_.first, range_.last, status.ToString());
  } else if (status.code() == ErrorCode::kRangeNotSupported) {
    // The answer, not a failure: the whole-file fallback takes the range over and says so,
    // once per file, with what it costs.
    spdlog::debug("GET {} bytes={}-{}: {}", url, range_.first, range_.last, status.ToString());
  } else if (IsRetryable(status) || IsLie(status)) {
    // The retry layer says what becomes of it.
    spdlog::info("GET {} bytes={}-{} failed after {} ms: {}", url, range_.first, range_.last,
                 elapsed.count(), status.ToString());
  } else {
    spdlog::warn("GET {} bytes={}-{} failed after {} ms: {}", url, range_.first, range_.last,
                 elapsed.count(), status.ToString());
  }
  sink_->OnDone(status);
}

Status RangeTransfer::CheckHeaders() {
  CURL* const easy = handle();
  const long code = ResponseCode(easy);
  const Result<RangeAnswer> answer = JudgeRangeStatus(options_, easy, code, exchange_, file_);
  if (!answer.ok()) return answer.status();
  if (*answer == RangeAnswer::kWholeFile) return CheckWholeBody(easy);
  // A Content-Range that does not parse is a lie whatever the status it comes with.
  std::optional<http::ContentRange> content_range;
  if (const std::optional<std::string> header = ResponseHeader(easy, "Content-Range")) {
    Result<http::ContentRange> parsed = http::ParseContentRange(*header);
    if (!parsed.ok()) return parsed.status();
    content_range = *parsed;
  }
  if (*answer == RangeAnswer::kUnsatisfiable) {
    if (Status same = CheckVersionOfUnsatisfiable(easy, content_range, file_); !same.ok()) {
      return same;
    }
    return Status(ErrorCode::kRangeNotSatisfiable,
                  DescribeStatus(exchange_, code) + ", Content-Range " +
                      ResponseHeader(easy, "Content-Range").value_or("absent"));
  }
  if (*answer == RangeAnswer::kUnusable) return UnusableStatus(exchange_, code);

  if (Status encoding = CheckIdentityEncoding(easy, code); !encoding.ok()) return encoding;
  if (!content_range) return Status(ErrorCode::kProtocolViolation, "206 without Content-Range");
  // Another version before a wrong slice: a changed file is the likelier story, and it makes
  // rangefs look at the file again.
  if (Status same = CheckAnswerVersion(easy, file_, content_range->complete_length); !same.ok()) {
    return same;
  }
  if (Status covers = http::CheckContentRangeCovers(*content_range, range_, file_.size);
      !covers.ok()) {
    return covers;
  }
  return ExpectBody(easy, *content_range->range);
}

Status RangeTransfer::CheckWholeBody(CURL* easy) {
  if (Status same = CheckAnswerVersion(easy, file_, ContentLength(easy)); !same.ok()) return same;
  if (range_.first != 0 || range_.last + 1 != file_.size) {
    return Status(ErrorCode::kRangeNotSupported,
                  "server ignored the Range header (200 OK with the whole file)");
  }
  if (Status encoding = CheckIdentityEncoding(easy, 200); !encoding.ok()) return encoding;
  return ExpectBody(easy, ByteRange{0, file_.size - 1});
}

Status RangeTransfer::ExpectBody(CURL* easy, const ByteRange& sent) {
  if (const std::optional<uint64_t> length = ContentLength(easy);
      length && *length != sent.length()) {
    return Status(ErrorCode::kProtocolViolation, "Content-Length " + std::to_string(*length) +
                                                     " for a range of " +
                                                     std::to_string(sent.length()) + " bytes");
  }
  skip_ = range_.first - sent.first;
  body_length_ = sent.length();
  return Status::Ok();
}

size_t RangeTransfer::OnBody(char* data, size_t size, size_t count, void* user) {
  RangeTransfer& self = *static_cast<RangeTransfer*>(user);
  const size_t length = size * count;
  if (!self.headers_checked_) {
    self.headers_checked_ = true;
    self.verdict_ = self.CheckHeaders();
    if (!self.verdict_.ok()) return 0;  // abort: CURLE_WRITE_ERROR
  }
  if (length > self.body_length_ - self.body_seen_) {
    self.verdict_ = Status(
        ErrorCode::kProtocolViolation,
        "body longer than the " + std::to_string(self.body_length_) + " bytes the server promised");
    return 0;
  }
  // Only the asked slice of a body that covers more goes on.
  const uint64_t from = std::max(self.body_seen_, self.skip_);
  const uint64_t to = std::min(self.body_seen_ + length, self.skip_ + self.range_.length());
  self.body_seen_ += length;
  if (from < to) {
    const auto* bytes = reinterpret_cast<const std::byte*>(data);
    const std::span<const std::byte> slice(bytes + (from - (self.body_seen_ - length)),
                                           static_cast<size_t>(to - from));
    self.received_ += slice.size();
    if (!self.sink_->OnData(slice)) {
      self.verdict_ = Status(ErrorCode::kInternal, "transfer abandoned by its reader");
      return 0;
    }
  }
  return length;
}

}  // namespace rangefs::http
