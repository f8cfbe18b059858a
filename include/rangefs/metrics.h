// Metrics: what rangefs has done since it started, counted where it happens (the read path,
// the HTTP range source, the retry layer, the filesystem) and read by the extended attributes
// of each file and by the metrics endpoint (--metrics).
//
// Counting is lock-free: each event is one or a few relaxed atomic additions, so the read path
// pays nothing it could measure. Readers (Collect, TrafficOf) see each counter's latest value,
// not one snapshot of all of them.
//
// Per-file traffic (requests, body bytes fetched, retries) is kept per URL, across every
// version of the file behind it; two names mounted from the same URL share it, just as a
// server's log cannot tell them apart.
//
// Thread-safety: all methods are thread-safe. The set of URLs is fixed at construction.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rangefs/block_cache.h"
#include "rangefs/prometheus_text.h"

namespace rangefs {

// A histogram of non-negative integer observations (microseconds, bytes) with fixed bounds.
class Histogram {
 public:
  // REQUIRES: `upper_bounds` ascending.
  explicit Histogram(std::vector<uint64_t> upper_bounds);

  void Observe(uint64_t value);

  // Per bucket, not cumulative: one count per upper bound and one more, the last for
  // observations above every bound.
  std::vector<uint64_t> BucketCounts() const;
  uint64_t Sum() const { return sum_.load(std::memory_order_relaxed); }

  // For the exposition: bounds and sum divided by `divisor` (1e6 turns microseconds into
  // seconds; dividing, unlike multiplying by 1e-6, gives 0.02773 for 27730, not
  // 0.027729999999999998).
  HistogramSample Sample(double divisor) const;

 private:
  const std::vector<uint64_t> bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> sum_{0};
};

// One HTTP request as the range source saw it end.
struct RequestOutcome {
  // The URL the user gave for the file (RemoteFileInfo::url), which names its counters. A view:
  // counting a request copies nothing.
  std::string_view url;
  long status = 0;                          // HTTP status of the (last) response; 0: none arrived
  uint64_t body_bytes = 0;                  // body bytes received, multipart framing included
  std::chrono::microseconds total{0};       // from the start of the request to its end
  std::chrono::microseconds first_byte{0};  // to the first byte of the response; 0 without
};

// What a file's traffic has been.
struct FileTraffic {
  uint64_t requests = 0;       // HTTP requests made (probes, range GETs, retries)
  uint64_t bytes_fetched = 0;  // body bytes received
  uint64_t retries = 0;        // fetches tried again after a failure that may pass
};

class Metrics {
 public:
  // `urls`: the URLs of the mounted files; duplicates share counters.
  explicit Metrics(const std::vector<std::string>& urls = {});
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The read path.
  void CountRead(uint64_t bytes_served, bool ok);
  void ObserveReadahead(uint64_t window_bytes);
  void HandleOpened();
  void HandleClosed();

  // The filesystem: a file's remote was found replaced by a new version.
  void CountVersionChange();

  // The range source and the retry layer. A URL that is not a mounted file's counts only in
  // the totals.
  void CountRequest(const RequestOutcome& outcome);
  void CountRetry(const std::string& url);

  // The traffic of the file at `url` (zero for a URL that is not mounted).
  FileTraffic TrafficOf(const std::string& url) const;

  // Every metric, for the endpoint; the cache's numbers are the cache's own counters.
  std::vector<MetricFamily> Collect(const BlockCacheStats& cache, size_t cache_capacity) const;

  // Statuses counted one by one; others (none exist in HTTP) are counted as 0.
  static constexpr long kMaxStatus = 599;

 private:
  struct alignas(64) FileCounters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> bytes_fetched{0};
    std::atomic<uint64_t> retries{0};
  };
  // Kept apart, so that readers on many threads and the HTTP engine thread do not share a
  // cache line.
  struct alignas(64) ReadCounters {
    std::atomic<uint64_t> reads{0};
    std::atomic<uint64_t> read_errors{0};
    std::atomic<uint64_t> bytes_served{0};
    std::atomic<int64_t> open_handles{0};
  };
  struct alignas(64) HttpCounters {
    std::atomic<uint64_t> bytes_fetched{0};
    std::atomic<uint64_t> retries{0};
    std::atomic<uint64_t> version_changes{0};
    std::atomic<uint64_t> by_status[kMaxStatus + 1] = {};  // [0]: no response
  };

  FileCounters* Find(std::string_view url) const;

  // Lets files_ be searched with a string_view, without building a std::string.
  struct UrlHash {
    using is_transparent = void;
    size_t operator()(std::string_view url) const { return std::hash<std::string_view>{}(url); }
  };
  std::unordered_map<std::string, std::unique_ptr<FileCounters>, UrlHash, std::equal_to<>>
      files_;  // fixed
  ReadCounters reads_;
  HttpCounters http_;
  Histogram request_duration_;  // microseconds
  Histogram first_byte_;        // microseconds
  Histogram readahead_;         // bytes
};

}  // namespace rangefs
