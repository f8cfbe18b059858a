#include "rangefs/metrics_collection.h"

#include <cstdint>
#include <utility>

namespace rangefs {
namespace {

constexpr double kMicrosecondsPerSecond = 1e6;

MetricFamily Scalar(std::string name, std::string help, MetricType type, double value) {
  return MetricFamily{.name = std::move(name),
                      .help = std::move(help),
                      .type = type,
                      .samples = {{.labels = {}, .value = value}},
                      .histograms = {}};
}

MetricFamily Counter(std::string name, std::string help, uint64_t value) {
  return Scalar(std::move(name), std::move(help), MetricType::kCounter, static_cast<double>(value));
}

MetricFamily Gauge(std::string name, std::string help, double value) {
  return Scalar(std::move(name), std::move(help), MetricType::kGauge, value);
}

MetricFamily HistogramFamily(std::string name, std::string help, const Histogram& histogram,
                             double divisor) {
  return MetricFamily{.name = std::move(name),
                      .help = std::move(help),
                      .type = MetricType::kHistogram,
                      .samples = {},
                      .histograms = {SampleOf(histogram, divisor)}};
}

}  // namespace

HistogramSample SampleOf(const Histogram& histogram, double divisor) {
  HistogramSample sample;
  sample.upper_bounds.reserve(histogram.upper_bounds().size());
  for (const uint64_t bound : histogram.upper_bounds()) {
    sample.upper_bounds.push_back(static_cast<double>(bound) / divisor);
  }
  sample.bucket_counts = histogram.BucketCounts();
  sample.sum = static_cast<double>(histogram.Sum()) / divisor;
  return sample;
}

namespace {

// Per origin and proxy: requests, body bytes, failures, and whether it is up, labelled
// kind="origin"|"proxy" and address (the origin, or the proxy with credentials redacted).
void AddAddressFamilies(const std::vector<AddressEntry>& entries,
                        std::vector<MetricFamily>& families) {
  if (entries.empty()) return;
  auto family = [](std::string name, std::string help, MetricType type) {
    return MetricFamily{.name = std::move(name),
                        .help = std::move(help),
                        .type = type,
                        .samples = {},
                        .histograms = {}};
  };
  MetricFamily requests = family("rangefs_address_requests_total",
                                 "HTTP requests by the origin they went to, or the proxy they "
                                 "went through.",
                                 MetricType::kCounter);
  MetricFamily bytes = family("rangefs_address_body_bytes_total",
                              "Body bytes received, by origin or proxy.", MetricType::kCounter);
  MetricFamily failures = family("rangefs_address_failures_total",
                                 "Failed requests: for an origin, no response or a 5xx; for a "
                                 "proxy, its own failures (unreachable, silent, refusing).",
                                 MetricType::kCounter);
  MetricFamily up = family("rangefs_address_up",
                           "1 while an origin or proxy is in use, 0 while it backs off after a "
                           "failure (until a request through it succeeds).",
                           MetricType::kGauge);
  for (const AddressEntry& entry : entries) {
    const std::vector<MetricLabel> labels = {
        {"kind", entry.kind == AddressKind::kOrigin ? "origin" : "proxy"},
        {"address", entry.address}};
    requests.samples.push_back(
        {.labels = labels, .value = static_cast<double>(entry.traffic.requests)});
    bytes.samples.push_back(
        {.labels = labels, .value = static_cast<double>(entry.traffic.body_bytes)});
    failures.samples.push_back(
        {.labels = labels, .value = static_cast<double>(entry.traffic.failures)});
    up.samples.push_back({.labels = labels, .value = entry.traffic.up ? 1.0 : 0.0});
  }
  families.push_back(std::move(requests));
  families.push_back(std::move(bytes));
  families.push_back(std::move(failures));
  families.push_back(std::move(up));
}

}  // namespace

std::vector<MetricFamily> CollectMetricFamilies(const Metrics& metrics,
                                                const BlockCacheStats& cache, size_t cache_capacity,
                                                const std::optional<DiskCacheStats>& disk_cache) {
  const MetricCounts counts = metrics.Counts();
  std::vector<MetricFamily> families;
  families.push_back(
      Counter("rangefs_reads_total", "Read requests from the kernel.", counts.reads));
  families.push_back(Counter("rangefs_read_errors_total",
                             "Read requests that failed (EIO: the server failed, or the file "
                             "changed under an open handle).",
                             counts.read_errors));
  families.push_back(
      Counter("rangefs_read_bytes_total", "Bytes served to readers.", counts.bytes_served));
  families.push_back(Counter("rangefs_fetched_bytes_total",
                             "Body bytes received from servers, multipart framing included. "
                             "Divided by rangefs_read_bytes_total: the read amplification.",
                             counts.bytes_fetched));

  MetricFamily requests{.name = "rangefs_http_requests_total",
                        .help = "HTTP requests that got a response, by status.",
                        .type = MetricType::kCounter,
                        .samples = {},
                        .histograms = {}};
  for (const auto& [status, count] : counts.responses_by_status) {
    requests.samples.push_back(
        {.labels = {{"code", std::to_string(status)}}, .value = static_cast<double>(count)});
  }
  families.push_back(std::move(requests));
  families.push_back(Counter("rangefs_http_transport_errors_total",
                             "HTTP requests that ended without a response (connection refused "
                             "or reset, timeout, TLS failure).",
                             counts.transport_errors));
  families.push_back(Counter("rangefs_retries_total",
                             "Fetches tried again after a failure that may pass (--retries).",
                             counts.retries));
  families.push_back(HistogramFamily("rangefs_http_request_duration_seconds",
                                     "Time from the start of an HTTP request to its end.",
                                     metrics.request_duration(), kMicrosecondsPerSecond));
  families.push_back(HistogramFamily("rangefs_http_first_byte_seconds",
                                     "Time from the start of an HTTP request to the first byte "
                                     "of its response.",
                                     metrics.first_byte(), kMicrosecondsPerSecond));

  families.push_back(
      Counter("rangefs_cache_hits_total", "Blocks a read found in the block cache.", cache.hits));
  families.push_back(Counter("rangefs_cache_misses_total",
                             "Blocks a read did not find in the block cache (absent or still "
                             "loading).",
                             cache.misses));
  families.push_back(Counter("rangefs_cache_evictions_total",
                             "Blocks dropped from the block cache to stay within --cache-size.",
                             cache.evictions));
  families.push_back(Counter("rangefs_cache_retired_blocks_total",
                             "Blocks dropped because the remote file changed.", cache.retired));
  families.push_back(Gauge("rangefs_cache_bytes", "Bytes in the block cache.",
                           static_cast<double>(cache.cached_bytes)));
  families.push_back(Gauge("rangefs_cache_blocks", "Blocks in the block cache.",
                           static_cast<double>(cache.cached_blocks)));
  families.push_back(Gauge("rangefs_cache_capacity_bytes",
                           "The block cache's budget (--cache-size).",
                           static_cast<double>(cache_capacity)));

  if (disk_cache) {
    families.push_back(Counter("rangefs_disk_cache_hits_total",
                               "Blocks read from the disk cache (--cache-dir), verified.",
                               disk_cache->hits));
    families.push_back(Counter("rangefs_disk_cache_misses_total",
                               "Blocks looked for in the disk cache and not found there (or "
                               "found failing their checks).",
                               disk_cache->misses));
    families.push_back(Counter("rangefs_disk_cache_writes_total",
                               "Blocks written to the disk cache.", disk_cache->writes));
    families.push_back(Counter("rangefs_disk_cache_evictions_total",
                               "Blocks this process removed from the disk cache to stay within "
                               "--disk-cache-size and --disk-cache-min-free.",
                               disk_cache->evictions));
    families.push_back(Counter("rangefs_disk_cache_errors_total",
                               "Failed disk cache writes, reads and index updates, and blocks "
                               "that failed their checksum.",
                               disk_cache->errors));
    families.push_back(Counter("rangefs_disk_cache_dropped_total",
                               "Blocks not written to the disk cache because its writer was "
                               "behind or paused after a fault.",
                               disk_cache->dropped));
    families.push_back(Gauge("rangefs_disk_cache_used_bytes",
                             "Bytes of blocks in the disk cache directory, every process "
                             "sharing it included.",
                             static_cast<double>(disk_cache->used_bytes)));
    families.push_back(Gauge("rangefs_disk_cache_capacity_bytes",
                             "The disk cache's bound (--disk-cache-size).",
                             static_cast<double>(disk_cache->max_bytes)));
  }
  families.push_back(HistogramFamily("rangefs_readahead_window_bytes",
                                     "Readahead window of each readahead request batch.",
                                     metrics.readahead(), 1.0));
  families.push_back(Gauge("rangefs_open_handles", "Open file handles.",
                           static_cast<double>(counts.open_handles)));
  families.push_back(Counter("rangefs_version_changes_total",
                             "Times a remote file was found replaced by a new version.",
                             counts.version_changes));
  AddAddressFamilies(metrics.addresses().Entries(), families);
  return families;
}

std::string MetricsText(const Metrics& metrics, const BlockCacheStats& cache, size_t cache_capacity,
                        const std::optional<DiskCacheStats>& disk_cache) {
  return FormatPrometheusText(CollectMetricFamilies(metrics, cache, cache_capacity, disk_cache));
}

}  // namespace rangefs
