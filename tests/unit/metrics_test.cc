#include "rangefs/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fakes/sample_traffic.h"

namespace rangefs {
namespace {

using std::chrono::microseconds;

uint64_t Observations(const Histogram& histogram) {
  uint64_t count = 0;
  for (const uint64_t bucket : histogram.BucketCounts()) count += bucket;
  return count;
}

TEST(HistogramTest, BucketsAreLessOrEqualAndTheLastTakesTheRest) {
  Histogram histogram({10, 100});
  for (const uint64_t value : std::vector<uint64_t>{0, 10, 11, 100, 101, 5000}) {
    histogram.Observe(value);
  }
  EXPECT_EQ(histogram.BucketCounts(), (std::vector<uint64_t>{2, 2, 2}));
  EXPECT_EQ(histogram.Sum(), 0u + 10 + 11 + 100 + 101 + 5000);
  EXPECT_EQ(histogram.upper_bounds(), (std::vector<uint64_t>{10, 100}));
}

TEST(MetricsTest, FreshMetricsAreZero) {
  Metrics metrics({"https://h/a"});
  const MetricCounts counts = metrics.Counts();
  EXPECT_EQ(counts.reads, 0u);
  EXPECT_EQ(counts.read_errors, 0u);
  EXPECT_EQ(counts.bytes_served, 0u);
  EXPECT_EQ(counts.open_handles, 0);
  EXPECT_EQ(counts.bytes_fetched, 0u);
  EXPECT_EQ(counts.retries, 0u);
  EXPECT_EQ(counts.version_changes, 0u);
  EXPECT_EQ(counts.transport_errors, 0u);
  EXPECT_TRUE(counts.responses_by_status.empty());
  EXPECT_EQ(Observations(metrics.request_duration()), 0u);
  EXPECT_EQ(Observations(metrics.first_byte()), 0u);
  EXPECT_EQ(Observations(metrics.readahead()), 0u);
  EXPECT_EQ(metrics.TrafficOf("https://h/a").requests, 0u);
}

TEST(MetricsTest, RequestsCountPerFileAndByStatus) {
  Metrics metrics(fakes::SampleTrafficUrls());
  fakes::RecordSampleTraffic(metrics);

  const FileTraffic a = metrics.TrafficOf("https://h/a");
  EXPECT_EQ(a.requests, 2u);
  EXPECT_EQ(a.bytes_fetched, 262144u);
  EXPECT_EQ(a.retries, 0u);
  const FileTraffic b = metrics.TrafficOf("https://h/b");
  EXPECT_EQ(b.requests, 2u);  // the one without a response was still made
  EXPECT_EQ(b.bytes_fetched, 100u);
  EXPECT_EQ(b.retries, 2u);
  EXPECT_EQ(metrics.TrafficOf("https://elsewhere/x").requests, 0u);

  const MetricCounts counts = metrics.Counts();
  EXPECT_EQ(counts.responses_by_status,
            (std::vector<std::pair<long, uint64_t>>{{200, 1}, {206, 2}, {503, 1}}));
  EXPECT_EQ(counts.transport_errors, 1u);
  EXPECT_EQ(counts.bytes_fetched, 262144u + 100 + 20);
  EXPECT_EQ(counts.retries, 2u);

  EXPECT_EQ(Observations(metrics.request_duration()), 5u);
  EXPECT_EQ(metrics.request_duration().Sum(), 700u + 3000 + 2'000'000 + 15'000'000 + 100);
  EXPECT_EQ(metrics.request_duration().upper_bounds().front(), 500u);
  EXPECT_EQ(metrics.request_duration().upper_bounds().back(), 60'000'000u);
  // No response, no first byte: four observations, not five.
  EXPECT_EQ(Observations(metrics.first_byte()), 4u);
}

TEST(MetricsTest, ReadsHandlesReadaheadAndVersions) {
  Metrics metrics;
  fakes::RecordSampleReads(metrics);

  const MetricCounts counts = metrics.Counts();
  EXPECT_EQ(counts.reads, 3u);
  EXPECT_EQ(counts.read_errors, 1u);
  EXPECT_EQ(counts.bytes_served, 4096u);
  EXPECT_EQ(counts.open_handles, 1);
  EXPECT_EQ(counts.version_changes, 1u);

  const Histogram& windows = metrics.readahead();
  EXPECT_EQ(windows.Sum(), uint64_t{(1 << 20) + (4 << 20)});
  // Exactly one observation in the 1 MiB bucket and one in the 4 MiB one.
  const std::vector<uint64_t> buckets = windows.BucketCounts();
  for (size_t i = 0; i < windows.upper_bounds().size(); ++i) {
    const bool observed =
        windows.upper_bounds()[i] == (1 << 20) || windows.upper_bounds()[i] == (4 << 20);
    EXPECT_EQ(buckets[i], observed ? 1u : 0u) << "le=" << windows.upper_bounds()[i];
  }
}

TEST(MetricsTest, ConcurrentCountingLosesNothing) {
  Metrics metrics({"https://h/a"});
  constexpr int kThreads = 4;
  constexpr int kEach = 10'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics] {
      for (int i = 0; i < kEach; ++i) {
        metrics.CountRead(3, true);
        metrics.CountRequest({.url = "https://h/a",
                              .status = 206,
                              .body_bytes = 2,
                              .total = microseconds(i),
                              .first_byte = microseconds(1)});
        metrics.CountRetry("https://h/a");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const FileTraffic traffic = metrics.TrafficOf("https://h/a");
  EXPECT_EQ(traffic.requests, uint64_t{kThreads} * kEach);
  EXPECT_EQ(traffic.bytes_fetched, uint64_t{2} * kThreads * kEach);
  EXPECT_EQ(traffic.retries, uint64_t{kThreads} * kEach);
  const MetricCounts counts = metrics.Counts();
  EXPECT_EQ(counts.reads, uint64_t{kThreads} * kEach);
  EXPECT_EQ(counts.bytes_served, uint64_t{3} * kThreads * kEach);
}

}  // namespace
}  // namespace rangefs
