#include "rangefs/metrics.h"

#include <algorithm>
#include <cassert>

namespace rangefs {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

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

MetricCounts Metrics::Counts() const {
  MetricCounts counts{.reads = reads_.reads.load(kRelaxed),
                      .read_errors = reads_.read_errors.load(kRelaxed),
                      .bytes_served = reads_.bytes_served.load(kRelaxed),
                      .open_handles = reads_.open_handles.load(kRelaxed),
                      .bytes_fetched = http_.bytes_fetched.load(kRelaxed),
                      .retries = http_.retries.load(kRelaxed),
                      .version_changes = http_.version_changes.load(kRelaxed),
                      .transport_errors = http_.by_status[0].load(kRelaxed),
                      .responses_by_status = {}};
  for (long status = 1; status <= kMaxStatus; ++status) {
    const uint64_t count = http_.by_status[status].load(kRelaxed);
    if (count > 0) counts.responses_by_status.emplace_back(status, count);
  }
  return counts;
}

}  // namespace rangefs
