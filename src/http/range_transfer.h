// RangeTransfer: one ranged GET in flight on the engine. It verifies the answer before the
// first body byte is passed on, then streams the asked slice of the body into the sink, and
// ends the sink with exactly one OnDone. LieLog is the memory it logs lies against.
//
// Thread-safety: LieLog is thread-safe. A RangeTransfer is configured by the thread that
// creates it and, once submitted, runs only on the engine thread (libcurl's callbacks and
// OnComplete).
// Ownership: the transfer owns its leased easy handle, its header list and the exchange those
// point into; the LieLog it reports to and the options it judges redirects by must outlive it
// (HttpRangeSource owns both, and declares them before the engine).
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "http/curl_handle.h"
#include "http/http_engine.h"
#include "http/range_get.h"
#include "http/response.h"
#include "rangefs/byte_range.h"
#include "rangefs/metrics.h"
#include "rangefs/range_source.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs::http {

// Remembers which files' servers lied, so that a lie is logged once per file, not per request.
class LieLog {
 public:
  // Whether this is the first lie seen for `url`.
  bool First(const std::string& url) {
    std::lock_guard lock(mu_);
    return liars_.insert(url).second;
  }

 private:
  std::mutex mu_;
  std::set<std::string> liars_;  // Guarded by mu_
};

class RangeTransfer final : public http::Transfer {
 public:
  // `metrics` (may be null) counts the request when it ends.
  RangeTransfer(CurlHandlePool::Lease lease, const HttpOptions& options, const RemoteFileInfo& file,
                const ByteRange& range, std::shared_ptr<RangeSink> sink, LieLog& lies,
                Metrics* metrics);

  // Sets what differs from the shared configuration; false when out of memory.
  bool Configure(const ProgressLimits& limits);

  Exchange& exchange() { return exchange_; }
  CurlSlist& headers() { return headers_; }  // the shared ones go first, then Configure's
  const std::string& url() const { return file_.final_url; }
  CURL* handle() const override { return lease_.get(); }
  bool Fetches(const std::string& url, const ByteRange& range) const override {
    return url == file_.url && Overlaps(range, range_);
  }

  void OnComplete(CURLcode result) override;
  // Whether its stall watch cut it off.
  bool stalled() const { return stall_.stalled().has_value(); }

 private:
  // Everything but the body length is known when the first body byte arrives: judge it there,
  // so a server that ignores Range is cut off after one buffer, not after the whole file.
  // Sets where the asked slice lies in the body.
  Status CheckHeaders();
  // A 200 carries the whole file: from another version (a failed If-Range), from a server
  // that ignores Range, or the answer to a request for the whole file.
  Status CheckWholeBody(CURL* easy);
  // The body will hold `sent` of the file, which contains the asked range.
  Status ExpectBody(CURL* easy, const ByteRange& sent);
  static size_t OnBody(char* data, size_t size, size_t count, void* user);

  CurlHandlePool::Lease lease_;
  const HttpOptions& options_;
  const RemoteFileInfo file_;
  const ByteRange range_;
  const std::shared_ptr<RangeSink> sink_;
  LieLog& lies_;
  Metrics* const metrics_;
  const std::chrono::steady_clock::time_point start_;
  Exchange exchange_;
  CurlSlist headers_;
  bool headers_checked_ = false;
  uint64_t skip_ = 0;         // body bytes before the asked range
  uint64_t body_length_ = 0;  // bytes the body will hold
  uint64_t body_seen_ = 0;
  uint64_t received_ = 0;  // bytes of the asked range passed on
  StallWatch stall_;
  Status verdict_;  // first problem found; the transfer is aborted when it is set
};

}  // namespace rangefs::http
