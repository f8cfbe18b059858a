#include "rangefs/http_range_source.h"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "http/curl_handle.h"
#include "http/http_engine.h"
#include "http/multi_range_routes.h"
#include "http/multi_range_transfer.h"
#include "http/probe.h"
#include "http/range_transfer.h"
#include "http/request.h"
#include "http/routed_transfer.h"
#include "http/url_target.h"
#include "rangefs/byte_range.h"
#include "rangefs/range_source.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs::http {
namespace {

// Where the pieces meet: the probe on the caller's thread, and the transfers (one range, or
// several in one request where the server can be trusted with that) on the engine.
class HttpRangeSource final : public RangeSource {
 public:
  HttpRangeSource(HttpOptions options, Metrics* metrics)
      : options_(std::move(options)), metrics_(metrics), engine_(options_.max_parallel_prefetch) {}

  Result<RemoteFileInfo> Probe(const std::string& url) override;
  Result<RemoteFileInfo> ProbeWithin(const std::string& url,
                                     std::chrono::milliseconds budget) override;
  void StartFetch(const RemoteFileInfo& file, const ByteRange& range, FetchPriority priority,
                  std::shared_ptr<RangeSink> sink) override;
  void StartMultiFetch(const RemoteFileInfo& file, const std::vector<ByteRange>& ranges,
                       FetchPriority priority,
                       std::vector<std::shared_ptr<RangeSink>> sinks) override;
  void Expedite(const RemoteFileInfo& file, const ByteRange& range) override {
    engine_.Expedite(file.url, range);
  }

 private:
  // What a ranged GET of `file` from `offset` on goes out with: the request, straight to
  // file.final_url (the probe's final URL, or where the retry layer was redirected to) with
  // credentials only if that is the user's origin, through the proxy its offset is routed to,
  // and a handle of the pool.
  struct Prepared {
    Request request;
    CurlHandlePool::Lease lease;
  };
  Result<Prepared> Prepare(const RemoteFileInfo& file, uint64_t offset);
  // Configures `transfer` (a RangeTransfer or a MultiRangeTransfer) for `request` and hands it
  // to the engine. One that cannot be configured ends at once, which its sinks hear of.
  template <typename TransferType>
  void Submit(std::unique_ptr<TransferType> transfer, const Request& request,
              FetchPriority priority);
  // Asks for two or more ranges of `file` (at `origin`) in one request, or for each alone when
  // the route that request takes does not do several at once, or is being tried by another.
  void StartGroup(const RemoteFileInfo& file, const std::string& origin,
                  std::vector<ByteRange> ranges, std::vector<std::shared_ptr<RangeSink>> sinks,
                  FetchPriority priority);
  // The proxy `request` goes through: "" for libcurl's environment variables (no --proxy),
  // "DIRECT", or the proxy's URL.
  static std::string ProxyOf(const Request& request) {
    if (!request.route) return "";
    return request.route->direct() ? "DIRECT" : request.route->proxy;
  }

  const HttpOptions options_;
  Metrics* const metrics_;
  const RequestSetup requests_{options_, metrics_};
  // Declared before the engine: the engine's transfers return their handles to the pool, so the
  // pool must outlive the engine's shutdown.
  LieLog lies_;
  MultiRangeRoutes multi_ranges_{options_.route_memory};
  CurlHandlePool pool_;
  http::HttpEngine engine_;
};

Result<RemoteFileInfo> HttpRangeSource::Probe(const std::string& url) {
  return ProbeUrl(pool_, requests_, url, metrics_);
}

Result<RemoteFileInfo> HttpRangeSource::ProbeWithin(const std::string& url,
                                                    std::chrono::milliseconds budget) {
  return ProbeUrl(pool_, requests_, url, metrics_, budget);
}

Result<HttpRangeSource::Prepared> HttpRangeSource::Prepare(const RemoteFileInfo& file,
                                                           uint64_t offset) {
  Result<http::UrlTarget> original = http::ParseUrlTarget(file.url);
  if (!original.ok()) return original.status();
  Result<Request> request = requests_.RequestFor(*original, file.final_url);
  if (!request.ok()) return request.status();
  requests_.Route(*request, RouteKey(file.url, offset));
  CurlHandlePool::Lease lease = pool_.Acquire();
  if (!lease.get()) return Status(ErrorCode::kInternal, "curl_easy_init failed");
  return Prepared{.request = std::move(*request), .lease = std::move(lease)};
}

template <typename TransferType>
void HttpRangeSource::Submit(std::unique_ptr<TransferType> transfer, const Request& request,
                             FetchPriority priority) {
  if (!requests_.Configure(transfer->handle(), request, transfer->exchange(),
                           transfer->headers()) ||
      !transfer->Configure({.window = options_.stall_timeout, .min_rate = options_.min_rate})) {
    return transfer->OnComplete(CURLE_OUT_OF_MEMORY);
  }
  if (request.route) {
    return engine_.Submit(
        std::make_unique<RoutedTransfer<TransferType>>(std::move(transfer), requests_, request),
        priority == FetchPriority::kPrefetch);
  }
  engine_.Submit(std::move(transfer), priority == FetchPriority::kPrefetch);
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
  Result<Prepared> prepared = Prepare(file, range.first);
  if (!prepared.ok()) return sink->OnDone(prepared.status());
  Submit(std::make_unique<RangeTransfer>(std::move(prepared->lease), options_, file, range,
                                         std::move(sink), lies_, metrics_),
         prepared->request, priority);
}

void HttpRangeSource::StartMultiFetch(const RemoteFileInfo& file,
                                      const std::vector<ByteRange>& ranges, FetchPriority priority,
                                      std::vector<std::shared_ptr<RangeSink>> sinks) {
  Result<http::UrlTarget> target = http::ParseUrlTarget(file.final_url);
  const bool one_at_a_time = ranges.size() < 2 || ranges.size() != sinks.size() ||
                             options_.max_ranges < 2 || !file.ranges_supported || !target.ok();
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
    StartGroup(file, target->origin, std::move(group_ranges), std::move(group_sinks), priority);
  }
}

void HttpRangeSource::StartGroup(const RemoteFileInfo& file, const std::string& origin,
                                 std::vector<ByteRange> ranges,
                                 std::vector<std::shared_ptr<RangeSink>> sinks,
                                 FetchPriority priority) {
  {
    Result<Prepared> prepared = Prepare(file, ranges.front().first);
    if (!prepared.ok()) {
      for (const std::shared_ptr<RangeSink>& sink : sinks) sink->OnDone(prepared.status());
      return;
    }
    // Decided per request, since the route is the request's: its origin and its proxy.
    Route route = RouteOf(origin, ProxyOf(prepared->request));
    const MultiRangePlan plan = multi_ranges_.Plan(route);
    if (plan != MultiRangePlan::kSingleRanges) {
      // The transfer outlives no member it points to: the engine, declared last, ends first.
      auto ask_alone = [this, file, priority](const ByteRange& range,
                                              std::shared_ptr<RangeSink> sink) {
        StartFetch(file, range, priority, std::move(sink));
      };
      return Submit(std::make_unique<MultiRangeTransfer>(
                        std::move(prepared->lease), options_, file, std::move(ranges),
                        std::move(sinks), multi_ranges_, std::move(route),
                        plan == MultiRangePlan::kTrial, metrics_, std::move(ask_alone)),
                    prepared->request, priority);
    }
  }  // the prepared handle goes back to the pool, for the single ranges to take
  for (size_t i = 0; i < ranges.size(); ++i) {
    StartFetch(file, ranges[i], priority, std::move(sinks[i]));
  }
}

}  // namespace
}  // namespace rangefs::http

namespace rangefs {

std::unique_ptr<RangeSource> NewHttpRangeSource(const HttpOptions& options, Metrics* metrics) {
  return std::make_unique<http::HttpRangeSource>(options, metrics);
}

}  // namespace rangefs
