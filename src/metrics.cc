#include "rangefs/metrics.h"

#include <algorithm>
#include <cassert>

namespace rangefs {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;
constexpr double kMicrosecondsPerSecond = 1e6;

// Request latency: from a loopback hit (well under a millisecond) to a request that ran into
// the default 60 s timeout.
std::vector<uint64_t> LatencyBoundsMicroseconds() {
  return {500,     1'000,   2'500,     5'000,     10'000,    25'000,     50'000,     100'000,
          250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000, 60'000'000};
}

// Readahead windows double from 1 MiB (the initial window) up to --readahead-max; smaller
// bounds catch a smaller --block-size's windows, the largest a big --readahead-max.
std::vector<uint64_t> WindowBoundsBytes() {
  std::vector<uint64_t> bounds;
  for (uint64_t bytes = 64 << 10; bytes <= (uint64_t{1} << 30); bytes *= 2) bounds.push_back(bytes);
  return bounds;
}

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
                      .histograms = {histogram.Sample(divisor)}};
}

}  // namespace

Histogram::Histogram(std::vector<uint64_t> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
}

void Histogram::Observe(uint64_t value) {
  // The first bound at or above the value: Prometheus buckets are "less than or equal".
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  counts_[bucket].fetch_add(1, kRelaxed);
  sum_.fetch_add(value, kRelaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> counts(bounds_.size() + 1);
  for (size_t i = 0; i < counts.size(); ++i) counts[i] = counts_[i].load(kRelaxed);
  return counts;
}

HistogramSample Histogram::Sample(double divisor) const {
  HistogramSample sample;
  sample.upper_bounds.reserve(bounds_.size());
  for (const uint64_t bound : bounds_) {
    sample.upper_bounds.push_back(static_cast<double>(bound) / divisor);
  }
  sample.bucket_counts = BucketCounts();
  sample.sum = static_cast<double>(Sum()) / divisor;
  return sample;
}

Metrics::Metrics(const std::vector<std::string>& urls)
    : request_duration_(LatencyBoundsMicroseconds()),
      first_byte_(LatencyBoundsMicroseconds()),
      readahead_(WindowBoundsBytes()) {
  for (const std::string& url : urls) {
    files_.try_emplace(url, std::make_unique<FileCounters>());
  }
}

// The map is fixed after construction; only the counters in it change.
Metrics::FileCounters* Metrics::Find(std::string_view url) const {
  const auto found = files_.find(url);
  return found == files_.end() ? nullptr : found->second.get();
}

void Metrics::CountRead(uint64_t bytes_served, bool ok) {
  reads_.reads.fetch_add(1, kRelaxed);
  if (!ok) reads_.read_errors.fetch_add(1, kRelaxed);
  if (bytes_served > 0) reads_.bytes_served.fetch_add(bytes_served, kRelaxed);
}

void Metrics::ObserveReadahead(uint64_t window_bytes) { readahead_.Observe(window_bytes); }

void Metrics::HandleOpened() { reads_.open_handles.fetch_add(1, kRelaxed); }

void Metrics::HandleClosed() { reads_.open_handles.fetch_sub(1, kRelaxed); }

void Metrics::CountVersionChange() { http_.version_changes.fetch_add(1, kRelaxed); }

void Metrics::CountRequest(const RequestOutcome& outcome) {
  const size_t status =
      outcome.status > 0 && outcome.status <= kMaxStatus ? static_cast<size_t>(outcome.status) : 0;
  http_.by_status[status].fetch_add(1, kRelaxed);
  http_.bytes_fetched.fetch_add(outcome.body_bytes, kRelaxed);
  request_duration_.Observe(static_cast<uint64_t>(std::max<int64_t>(0, outcome.total.count())));
  if (outcome.status > 0 && outcome.first_byte.count() > 0) {
    first_byte_.Observe(static_cast<uint64_t>(outcome.first_byte.count()));
  }
  if (FileCounters* file = Find(outcome.url)) {
    file->requests.fetch_add(1, kRelaxed);
    file->bytes_fetched.fetch_add(outcome.body_bytes, kRelaxed);
  }
}

void Metrics::CountRetry(const std::string& url) {
  http_.retries.fetch_add(1, kRelaxed);
  if (FileCounters* file = Find(url)) file->retries.fetch_add(1, kRelaxed);
}

FileTraffic Metrics::TrafficOf(const std::string& url) const {
  const FileCounters* file = Find(url);
  if (!file) return {};
  return FileTraffic{.requests = file->requests.load(kRelaxed),
                     .bytes_fetched = file->bytes_fetched.load(kRelaxed),
                     .retries = file->retries.load(kRelaxed)};
}

std::vector<MetricFamily> Metrics::Collect(const BlockCacheStats& cache,
                                           size_t cache_capacity) const {
  std::vector<MetricFamily> families;
  families.push_back(Counter("rangefs_reads_total", "Read requests from the kernel.",
                             reads_.reads.load(kRelaxed)));
  families.push_back(Counter("rangefs_read_errors_total",
                             "Read requests that failed (EIO: the server failed, or the file "
                             "changed under an open handle).",
                             reads_.read_errors.load(kRelaxed)));
  families.push_back(Counter("rangefs_read_bytes_total", "Bytes served to readers.",
                             reads_.bytes_served.load(kRelaxed)));
  families.push_back(Counter("rangefs_fetched_bytes_total",
                             "Body bytes received from servers, multipart framing included. "
                             "Divided by rangefs_read_bytes_total: the read amplification.",
                             http_.bytes_fetched.load(kRelaxed)));

  MetricFamily requests{.name = "rangefs_http_requests_total",
                        .help = "HTTP requests that got a response, by status.",
                        .type = MetricType::kCounter,
                        .samples = {},
                        .histograms = {}};
  for (long status = 1; status <= kMaxStatus; ++status) {
    const uint64_t count = http_.by_status[status].load(kRelaxed);
    if (count == 0) continue;
    requests.samples.push_back(
        {.labels = {{"code", std::to_string(status)}}, .value = static_cast<double>(count)});
  }
  families.push_back(std::move(requests));
  families.push_back(Counter("rangefs_http_transport_errors_total",
                             "HTTP requests that ended without a response (connection refused "
                             "or reset, timeout, TLS failure).",
                             http_.by_status[0].load(kRelaxed)));
  families.push_back(Counter("rangefs_retries_total",
                             "Fetches tried again after a failure that may pass (--retries).",
                             http_.retries.load(kRelaxed)));
  families.push_back(HistogramFamily("rangefs_http_request_duration_seconds",
                                     "Time from the start of an HTTP request to its end.",
                                     request_duration_, kMicrosecondsPerSecond));
  families.push_back(HistogramFamily("rangefs_http_first_byte_seconds",
                                     "Time from the start of an HTTP request to the first byte "
                                     "of its response.",
                                     first_byte_, kMicrosecondsPerSecond));

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

  families.push_back(HistogramFamily("rangefs_readahead_window_bytes",
                                     "Readahead window of each readahead request batch.",
                                     readahead_, 1.0));
  families.push_back(Gauge("rangefs_open_handles", "Open file handles.",
                           static_cast<double>(reads_.open_handles.load(kRelaxed))));
  families.push_back(Counter("rangefs_version_changes_total",
                             "Times a remote file was found replaced by a new version.",
                             http_.version_changes.load(kRelaxed)));
  return families;
}

}  // namespace rangefs
