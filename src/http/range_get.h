// What the single- and multi-range GETs (RangeTransfer, MultiRangeTransfer) share: the options
// a ranged GET sets on top of the shared request configuration, the stall watch, and the
// judgement of the answers both read alike (the status, the version, the encoding).
//
// Thread-safety: the functions keep no state. A StallWatch belongs to the transfer that owns
// the easy handle it was armed on, and is touched only from that handle's callbacks.
// Ownership: the caller owns the StallWatch and the header list, and must keep both alive while
// the handle they were given to may run.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

#include "http/curl_handle.h"
#include "http/progress_watch.h"
#include "http/protocol.h"
#include "http/response.h"
#include "rangefs/byte_range.h"
#include "rangefs/http_range_source.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs::http {

// How the answer to a ranged GET is to be read, by its status, once JudgeRangeStatus has taken
// out the statuses that end the request.
enum class RangeAnswer {
  kWholeFile,      // 200: the whole file, whatever was asked (a failed If-Range, a server that
                   // ignores Range, or the answer to a request for the whole file)
  kPartial,        // 206: parts of the file, which its headers name
  kUnsatisfiable,  // 416: no asked range lies in the file as the server has it
  kUnusable,       // anything else: of no use to a range GET (UnusableStatus says so)
};

// The judgement of a ranged GET's status that both transfers share. Failures: 412 (the
// precondition failed, so the file changed: kRemoteChanged); a redirect (kRedirected to its
// checked target, or kHttpStatus when it may not be followed: RangeRedirect with `options`);
// 403, 404 or 410 from an address a redirect led to (kUrlExpired: resolve the URL again); a
// server that is busy or failing for now (kServerBusy, after Retry-After if it says). Every
// other status is classified; a 3xx that is no redirect is kUnusable.
Result<RangeAnswer> JudgeRangeStatus(const HttpOptions& options, CURL* easy, long code,
                                     const Exchange& exchange, const RemoteFileInfo& file);

// kHttpStatus for an answer that is RangeAnswer::kUnusable.
Status UnusableStatus(const Exchange& exchange, long code);

// kRemoteChanged, naming what differs, when the answer's validators, or the size it gives the
// file (`file_size`, nullopt where the answer gives none), are another version's than `file`.
Status CheckAnswerVersion(CURL* easy, const RemoteFileInfo& file,
                          std::optional<uint64_t> file_size);

// kProtocolViolation, naming the coding, when the body of an answer with status `code` is not
// identity bytes: the offsets of an encoded body are not the file's.
Status CheckIdentityEncoding(CURL* easy, long code);

// The answer's Content-Length; nullopt when it has none (chunked, or HTTP/2 without one).
std::optional<uint64_t> ContentLength(CURL* easy);

// Cuts off a transfer its ProgressWatch finds stalled or too slow, from libcurl's progress
// callback (called at least once a second). libcurl's own low-speed limit would do the rate
// part, but its error could not be told apart from the whole request's timeout.
class StallWatch {
 public:
  void Arm(CURL* easy, const ProgressLimits& limits);
  // Set when the watch aborted the transfer.
  const std::optional<Status>& stalled() const { return stalled_; }

 private:
  static int OnProgress(void* user, curl_off_t, curl_off_t downloaded, curl_off_t, curl_off_t);

  std::optional<ProgressWatch> watch_;
  std::optional<Status> stalled_;
};

// A 416 to ranges that lie inside the file we know: when its Content-Range total ("bytes */N")
// or its validators name another version, the file changed (kRemoteChanged); ok otherwise.
Status CheckVersionOfUnsatisfiable(CURL* easy, const std::optional<ContentRange>& content_range,
                                   const RemoteFileInfo& file);

// Why a ranged GET's transfer ended before its body did, from libcurl's result: the stall
// watch aborted it, the engine cancelled it at shutdown (not to be retried), or a transport
// error. nullopt when libcurl saw the transfer through (CURLE_OK).
std::optional<Status> TransferFailure(CURLcode result, const StallWatch& stall,
                                      const Exchange& exchange);

// Whether a ranged GET ended because rangefs is stopping (the engine cancelled it, running or
// still queued): not a request to count.
bool StoppedByShutdown(CURLcode result, const StallWatch& stall);

// What every ranged GET sets on top of the shared configuration: the Range header, the
// version precondition, Last-Modified for comparing versions, the body callback and the stall
// watch. `headers` already holds the shared headers. False when out of memory.
bool ConfigureRangeGet(CURL* easy, CurlSlist& headers, std::span<const ByteRange> ranges,
                       const RemoteFileInfo& file, curl_write_callback on_body, void* body_data,
                       StallWatch& stall, const ProgressLimits& limits);

}  // namespace rangefs::http
