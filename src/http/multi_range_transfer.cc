#include "http/multi_range_transfer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "http/validators.h"
#include "rangefs/redact.h"

namespace rangefs::http {

MultiRangeTransfer::MultiRangeTransfer(CurlHandlePool::Lease lease, const HttpOptions& options,
                                       const RemoteFileInfo& file, std::vector<ByteRange> ranges,
                                       std::vector<std::shared_ptr<RangeSink>> sinks,
                                       MultiRangeRoutes& routes, Route route, bool trial,
                                       Metrics* metrics, AskAlone ask_alone)
    : lease_(std::move(lease)),
      options_(options),
      file_(file),
      routes_(routes),
      route_(std::move(route)),
      trial_(trial),
      metrics_(metrics),
      ask_alone_(std::move(ask_alone)) {
  for (size_t i = 0; i < ranges.size() && i < sinks.size(); ++i) {
    wanted_.push_back({ranges[i], std::move(sinks[i])});
  }
}

std::vector<ByteRange> MultiRangeTransfer::AskedRanges() const {
  std::vector<ByteRange> ranges;
  ranges.reserve(wanted_.size());
  for (const Wanted& wanted : wanted_) ranges.push_back(wanted.range);
  return ranges;
}

bool MultiRangeTransfer::Configure(const ProgressLimits& limits) {
  return ConfigureRangeGet(handle(), headers_, AskedRanges(), file_, &MultiRangeTransfer::OnBody,
                           this, stall_, limits);
}

bool MultiRangeTransfer::Fetches(const std::string& url, const ByteRange& range) const {
  if (url != file_.url) return false;
  return std::ranges::any_of(
      wanted_, [&range](const Wanted& wanted) { return Overlaps(range, wanted.range); });
}

void MultiRangeTransfer::OnComplete(CURLcode result) {
  if (!StoppedByShutdown(result, stall_)) CountRequest(metrics_, file_.url, handle());
  Status status = verdict_;
  if (status.ok() && !all_delivered_) {
    if (std::optional<Status> failed = TransferFailure(result, stall_, exchange_)) {
      status = *std::move(failed);
    } else if (!headers_checked_) {
      status = CheckHeaders();
      if (status.ok()) status = Status(ErrorCode::kTruncated, "206 with an empty body");
    } else if (parser_) {
      status = parser_->Finish();
    }
  }
  if (!status.ok() && status.code() == ErrorCode::kProtocolViolation) {
    // The server cannot be trusted with several ranges at once; single ranges it may still
    // answer well, so the ranges are retried alone (kTruncated) and the route remembered.
    Learned(MultiRangeOutcome::kUnsupported, status.message(), true);
    status = Status(ErrorCode::kTruncated, "multi-range answer unusable: " + status.message());
  }
  // What the answer showed, where nothing above reported it: a usable 206 makes the route
  // good, and a trial that ended before its answer told anything frees the route for the next
  // trial. (outcome_ is never kUnsupported, so this logs nothing.)
  Learned(outcome_, "", false);
  const std::string url = RedactUrl(file_.final_url);
  for (Wanted& wanted : wanted_) {
    if (wanted.delivered == wanted.range.length() && !wanted.refused) {
      wanted.sink->OnDone(Status::Ok());
      continue;
    }
    // The route answered "not several at once" (or, if the server ignores Range, "none at
    // all": the answer to the range asked alone says which, and the whole-file fallback says
    // so once). Nothing failed, so nothing is retried or logged as a failure.
    if (ask_each_alone_ && ask_alone_ && wanted.delivered == 0 && !wanted.refused) {
      spdlog::debug("GET {} bytes={}-{} (one of {} ranges): {}; asking for it alone", url,
                    wanted.range.first, wanted.range.last, wanted_.size(), status.message());
      ask_alone_(wanted.range, std::move(wanted.sink));
      continue;
    }
    Status own = status;
    if (own.ok() || wanted.refused) {
      own = wanted.refused ? Status(ErrorCode::kInternal, "transfer abandoned by its reader")
                           : Status(ErrorCode::kTruncated,
                                    "the multi-range answer left out bytes " +
                                        std::to_string(wanted.range.first + wanted.delivered) +
                                        "-" + std::to_string(wanted.range.last));
    }
    // A redirect is followed by the retry layer, which logs what it makes of it; kInternal is
    // rangefs's own end of the transfer (stopping, or the reader gave up on the bytes).
    const bool ours = own.code() == ErrorCode::kRedirected || own.code() == ErrorCode::kInternal;
    spdlog::log(ours ? spdlog::level::debug : spdlog::level::info,
                "GET {} bytes={}-{} (one of {} ranges) ended after {} bytes: {}", url,
                wanted.range.first, wanted.range.last, wanted_.size(), wanted.delivered,
                own.ToString());
    wanted.sink->OnDone(own);
  }
}

void MultiRangeTransfer::Learned(MultiRangeOutcome outcome, const std::string& why, bool fault) {
  if (reported_) return;
  reported_ = true;
  if (!routes_.Report(route_, outcome, trial_)) return;
  if (fault) {
    spdlog::warn(
        "{}: unusable answer to a multi-range request ({}); asking {} for one range at a "
        "time from now on",
        RedactUrl(file_.final_url), why, route_.key);
  } else {
    // Once per route, and not a warning: caches in front of origins answer so by design.
    spdlog::info("{}: {} to a multi-range request; asking for one range at a time from now on",
                 route_.key, why);
  }
}

Status MultiRangeTransfer::Refused(const std::string& why, bool fault) {
  Learned(MultiRangeOutcome::kUnsupported, why, fault);
  ask_each_alone_ = true;
  return Status(ErrorCode::kTruncated, why + " to a multi-range request");
}

Status MultiRangeTransfer::CheckHeaders() {
  CURL* const easy = handle();
  const long code = ResponseCode(easy);
  // A server that cannot do several ranges at once may say so, and still answer one: before
  // JudgeRangeStatus, which would take a 501 for a busy server and retry it. Neither is the
  // usual refusal (that is a 416), so each stays a warning.
  if (code == 400 || code == 501) return Refused(DescribeStatus(exchange_, code), true);
  const Result<RangeAnswer> answer = JudgeRangeStatus(options_, easy, code, exchange_, file_);
  if (!answer.ok()) return answer.status();
  if (*answer == RangeAnswer::kWholeFile) {
    if (Status same = CheckAnswerVersion(easy, file_, ContentLength(easy)); !same.ok()) {
      return same;
    }
    if (Status encoding = CheckIdentityEncoding(easy, code); !encoding.ok()) return encoding;
    // The whole file: every range is in it, and the route does not do several at once (S3,
    // nginx's slice cache, and nginx or Apache past their range limits, answer so). Worth
    // reading only when what is asked for comes early; else each range is asked for alone.
    uint64_t last_wanted = 0;
    for (const Wanted& wanted : wanted_) last_wanted = std::max(last_wanted, wanted.range.last);
    if (last_wanted >= kWholeFileReadLimit) return Refused("200 with the whole file", false);
    Learned(MultiRangeOutcome::kUnsupported, "200 with the whole file", false);
    BeginSegment(ByteRange{0, file_.size - 1});
    return Status::Ok();
  }
  if (*answer == RangeAnswer::kUnsatisfiable) {
    std::optional<http::ContentRange> content_range;
    if (const std::optional<std::string> header = ResponseHeader(easy, "Content-Range")) {
      if (Result<http::ContentRange> parsed = http::ParseContentRange(*header); parsed.ok()) {
        content_range = *parsed;
      }
    }
    if (Status same = CheckVersionOfUnsatisfiable(easy, content_range, file_); !same.ok()) {
      return same;
    }
    // Every asked range lies within the file as probed (and the version is the same): the
    // route refuses several ranges at once, as Varnish does. A range past the end would make
    // the 416 the server's right; rangefs never asks for one, and such a 416 stays a fault.
    const bool all_inside = std::ranges::all_of(
        wanted_, [this](const Wanted& wanted) { return wanted.range.last < file_.size; });
    if (all_inside) return Refused(DescribeStatus(exchange_, code), false);
    return Status(ErrorCode::kProtocolViolation, DescribeStatus(exchange_, code));
  }
  if (*answer == RangeAnswer::kUnusable) return UnusableStatus(exchange_, code);
  if (Status encoding = CheckIdentityEncoding(easy, code); !encoding.ok()) return encoding;
  // The size is each part's to give (OnPart).
  if (Status same = CheckAnswerVersion(easy, file_, std::nullopt); !same.ok()) return same;
  const std::string content_type = ResponseHeader(easy, "Content-Type").value_or("");
  const std::optional<std::string> boundary = http::ByterangesBoundary(content_type);
  if (!boundary && http::IsMultipartMediaType(content_type)) {
    // Its framing cannot be parsed; read as one part, it would pass for file bytes.
    return Status(ErrorCode::kProtocolViolation, "a multipart answer without a usable boundary");
  }
  // From here the answer is one the transfer reads: the route does several ranges at once,
  // unless the parts turn out to be garbage (a kProtocolViolation, reported instead).
  outcome_ = MultiRangeOutcome::kSupported;
  if (boundary) {
    parser_.emplace(*boundary, http::MultipartByterangesParser::Callbacks{
                                   .on_part =
                                       [this](const http::ContentRange& part) {
                                         return OnPart(part) ? Status::Ok() : verdict_;
                                       },
                                   .on_data =
                                       [this](std::span<const std::byte> data) {
                                         return Deliver(data) ? Status::Ok() : verdict_;
                                       }});
    return Status::Ok();
  }
  // One part: the server coalesced the ranges, or answered some of them.
  const std::optional<std::string> header = ResponseHeader(easy, "Content-Range");
  if (!header) return Status(ErrorCode::kProtocolViolation, "206 without Content-Range");
  Result<http::ContentRange> content_range = http::ParseContentRange(*header);
  if (!content_range.ok()) return content_range.status();
  if (!OnPart(*content_range)) return verdict_;
  if (const std::optional<uint64_t> length = ContentLength(easy);
      length && *length != content_range->range->length()) {
    return Status(ErrorCode::kProtocolViolation, "Content-Length disagrees with Content-Range");
  }
  return Status::Ok();
}

bool MultiRangeTransfer::OnPart(const http::ContentRange& part) {
  if (!part.range) {
    verdict_ = Status(ErrorCode::kProtocolViolation, "a part without a byte range");
    return false;
  }
  if (part.complete_length && *part.complete_length != file_.size) {
    verdict_ = http::CheckSameVersion(
        file_, {.etag = std::nullopt, .last_modified = std::nullopt, .size = part.complete_length});
    return false;
  }
  // "bytes a-b/*": the server does not know the total (RFC 9110 section 14.4); the size the
  // probe found stands for it, so the part must lie within it.
  if (!part.complete_length && part.range->last >= file_.size) {
    verdict_ = Status(ErrorCode::kProtocolViolation,
                      "a part for " + std::to_string(part.range->first) + "-" +
                          std::to_string(part.range->last) + "/*, past the end of the " +
                          std::to_string(file_.size) + "-byte file");
    return false;
  }
  // Bytes are placed by the part's label, so a label that is off by a byte would shift them:
  // a part must hold whole asked ranges, as a single-range answer must hold the whole range.
  if (Status covers = http::CheckPartCoversAskedRanges(*part.range, AskedRanges()); !covers.ok()) {
    verdict_ = std::move(covers);
    return false;
  }
  BeginSegment(*part.range);
  return true;
}

void MultiRangeTransfer::BeginSegment(const ByteRange& span) {
  segment_first_ = span.first;
  segment_length_ = span.length();
  segment_received_ = 0;
}

bool MultiRangeTransfer::Deliver(std::span<const std::byte> data) {
  if (data.size() > segment_length_ - segment_received_) {
    // Only a single-part or whole-file body can run over (the multipart parser holds each
    // part to its length): bytes past what the label covers would be placed where nobody
    // vouched for them.
    verdict_ =
        Status(ErrorCode::kProtocolViolation, "body longer than its Content-Range (" +
                                                  std::to_string(segment_length_) + " bytes)");
    return false;
  }
  const uint64_t begin = segment_first_ + segment_received_;
  const uint64_t end = begin + data.size();  // one past
  segment_received_ += data.size();
  bool all = true;
  for (Wanted& wanted : wanted_) {
    if (wanted.refused) continue;
    const uint64_t next = wanted.range.first + wanted.delivered;
    if (wanted.delivered < wanted.range.length() && next >= begin && next < end) {
      const uint64_t stop = std::min(end, wanted.range.last + 1);
      const std::span<const std::byte> slice =
          data.subspan(static_cast<size_t>(next - begin), static_cast<size_t>(stop - next));
      if (wanted.sink->OnData(slice)) {
        wanted.delivered += slice.size();
      } else {
        wanted.refused = true;
      }
    }
    if (!wanted.refused && wanted.delivered < wanted.range.length()) all = false;
  }
  all_delivered_ = all;
  return true;
}

size_t MultiRangeTransfer::OnBody(char* data, size_t size, size_t count, void* user) {
  MultiRangeTransfer& self = *static_cast<MultiRangeTransfer*>(user);
  const size_t length = size * count;
  if (!self.headers_checked_) {
    self.headers_checked_ = true;
    self.verdict_ = self.CheckHeaders();
    if (!self.verdict_.ok()) return 0;
  }
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), length);
  if (self.parser_) {
    if (Status fed = self.parser_->Feed(bytes); !fed.ok()) {
      if (self.verdict_.ok()) self.verdict_ = fed;
      return 0;
    }
  } else if (!self.Deliver(bytes)) {
    return 0;
  }
  // Everything asked for is here: the rest of a whole-file answer is not needed (a
  // multipart answer is read to its end, which keeps the connection).
  return self.all_delivered_ && !self.parser_ ? 0 : length;
}

}  // namespace rangefs::http
