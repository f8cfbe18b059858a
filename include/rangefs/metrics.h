// Metrics: what rangefs has done since it started, counted where it happens (the read path,
// the HTTP range source, the retry layer, the filesystem) and read by the extended attributes
// of each file and by the metrics endpoint (--metrics). This is the counting side only: turning
// the counts (and the block cache's) into metric families and text is metrics_collection.h's,
// so that what counts (the read path, HTTP, retries) sees neither the cache nor the format.
//
// Counting is lock-free: each event is one or a few relaxed atomic additions, so the read path
// pays nothing it could measure. Readers (Counts, the histograms, TrafficOf) see each counter's
// latest value, not one snapshot of all of them.
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
#include <utility>
#include <vector>

#include "rangefs/address_metrics.h"

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
  const std::vector<uint64_t>& upper_bounds() const { return bounds_; }

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

// The totals' values when asked, for collection (metrics_collection.h).
struct MetricCounts {
  uint64_t reads = 0;
  uint64_t read_errors = 0;
  uint64_t bytes_served = 0;
  int64_t open_handles = 0;
  uint64_t bytes_fetched = 0;
  uint64_t retries = 0;
  uint64_t version_changes = 0;
  uint64_t transport_errors = 0;  // requests that ended without a response
  // (status, requests) for each status seen at least once, ascending.
  std::vector<std::pair<long, uint64_t>> responses_by_status;
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

  // Traffic and state per origin and proxy.
  AddressMetrics& addresses() { return addresses_; }
  const AddressMetrics& addresses() const { return addresses_; }

  // The traffic of the file at `url` (zero for a URL that is not mounted).
  FileTraffic TrafficOf(const std::string& url) const;

  // The totals and the histograms, for the endpoint.
  MetricCounts Counts() const;
  const Histogram& request_duration() const { return request_duration_; }  // microseconds
  const Histogram& first_byte() const { return first_byte_; }              // microseconds
  const Histogram& readahead() const { return readahead_; }                // bytes

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

  AddressMetrics addresses_;

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
