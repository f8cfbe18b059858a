// MultiRangeTransfer: one GET for several ranges of a file ("Range: bytes=a-b,c-d"). The answer
// may be a multipart/byteranges body, a single part that covers them (servers may coalesce), or
// the whole file (200); each asked range is cut out of the part that contains it and streamed to
// its sink as the bytes arrive. A range that no part delivered ends with kTruncated, so the retry
// layer asks for what is missing of it on its own. A refusal (a 416 to ranges inside the file,
// a 400 or 501), or a 200 whose asked bytes lie too far in to be read through, is no failure but
// the route's answer that it does not do several ranges at once: each range is handed, with its
// sink, to the transfer's AskAlone, at once and without a retry. What the answer showed about
// the route is reported to MultiRangeRoutes once.
// Every sink ends with exactly one OnDone (or goes on to AskAlone, which then owes it).
//
// Thread-safety: a MultiRangeTransfer is configured by the thread that creates it and, once
// submitted, runs only on the engine thread (libcurl's callbacks and OnComplete).
// Ownership: the transfer owns its leased easy handle, its header list and the exchange those
// point into; the MultiRangeRoutes it reports to and the options it judges redirects by must
// outlive it (HttpRangeSource owns both, and declares them before the engine).
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "http/curl_handle.h"
#include "http/http_engine.h"
#include "http/multi_range_routes.h"
#include "http/multipart.h"
#include "http/protocol.h"
#include "http/range_get.h"
#include "http/response.h"
#include "rangefs/byte_range.h"
#include "rangefs/metrics.h"
#include "rangefs/range_source.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs::http {

class MultiRangeTransfer final : public http::Transfer {
 public:
  // Asks for one range of the file alone, into `sink` (a single-range GET with the same
  // priority). Called on the engine thread; must not block.
  using AskAlone = std::function<void(const ByteRange& range, std::shared_ptr<RangeSink> sink)>;

  // `route`: the route the request takes, whose outcome goes to `routes`; `trial`: the request
  // is the route's trial (MultiRangePlan::kTrial). `metrics` (may be null) counts the request
  // when it ends.
  MultiRangeTransfer(CurlHandlePool::Lease lease, const HttpOptions& options,
                     const RemoteFileInfo& file, std::vector<ByteRange> ranges,
                     std::vector<std::shared_ptr<RangeSink>> sinks, MultiRangeRoutes& routes,
                     Route route, bool trial, Metrics* metrics, AskAlone ask_alone);

  bool Configure(const ProgressLimits& limits);

  Exchange& exchange() { return exchange_; }
  CurlSlist& headers() { return headers_; }
  CURL* handle() const override { return lease_.get(); }
  bool Fetches(const std::string& url, const ByteRange& range) const override;

  void OnComplete(CURLcode result) override;
  // Whether its stall watch cut it off.
  bool stalled() const { return stall_.stalled().has_value(); }

 private:
  struct Wanted {
    ByteRange range;
    std::shared_ptr<RangeSink> sink;
    uint64_t delivered = 0;
    bool refused = false;
  };

  // How far into a 200 answer (the whole file) the asked bytes may lie for it to be read:
  // about what a round trip costs at 100 MB/s and 20 ms each way. Past it, each range is asked
  // for alone.
  static constexpr uint64_t kWholeFileReadLimit = 4 << 20;

  // Reports what the answer showed about the route, the first time only. A route newly made
  // bad is logged once per route: as a warning when its answer was a fault (`fault`), else (a
  // refusal, which RFC 9110 allows, and caches in front of origins give) as information.
  void Learned(MultiRangeOutcome outcome, const std::string& why, bool fault);
  // A refusal of several ranges at once (`why`; `fault`: an unusual one, logged as a warning):
  // the route is reported, and every range is to be asked for alone.
  Status Refused(const std::string& why, bool fault);
  Status CheckHeaders();
  std::vector<ByteRange> AskedRanges() const;
  // A part of the answer begins: it must describe this version.
  bool OnPart(const http::ContentRange& part);
  void BeginSegment(const ByteRange& span);
  // Bytes of the current segment, in order: each asked range whose next byte is here takes its
  // slice.
  bool Deliver(std::span<const std::byte> data);
  static size_t OnBody(char* data, size_t size, size_t count, void* user);

  CurlHandlePool::Lease lease_;
  const HttpOptions& options_;
  const RemoteFileInfo file_;
  MultiRangeRoutes& routes_;
  const Route route_;
  const bool trial_;
  Metrics* const metrics_;
  const AskAlone ask_alone_;
  std::vector<Wanted> wanted_;
  Exchange exchange_;
  CurlSlist headers_;
  bool headers_checked_ = false;
  bool all_delivered_ = false;
  // A refusal, or a 200 that is not read through: every range goes to ask_alone_.
  bool ask_each_alone_ = false;
  // What the answer showed about the route, once its headers were checked.
  MultiRangeOutcome outcome_ = MultiRangeOutcome::kInconclusive;
  bool reported_ = false;
  std::optional<http::MultipartByterangesParser> parser_;
  uint64_t segment_first_ = 0;
  uint64_t segment_length_ = 0;
  uint64_t segment_received_ = 0;
  Status verdict_;
  StallWatch stall_;
};

}  // namespace rangefs::http
