#include "rangefs/metrics_collection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fakes/sample_traffic.h"
#include "rangefs/metrics.h"
#include "rangefs/prometheus_text.h"

namespace rangefs {
namespace {

using std::chrono::microseconds;

// Every counter and gauge sample of a collection, as "name{label=value}" -> value.
std::map<std::string, double> Samples(const std::vector<MetricFamily>& families) {
  std::map<std::string, double> out;
  for (const MetricFamily& family : families) {
    for (const MetricSample& sample : family.samples) {
      std::string key = family.name;
      for (const MetricLabel& label : sample.labels) {
        key += "{" + label.name + "=" + label.value + "}";
      }
      out[key] = sample.value;
    }
  }
  return out;
}

const MetricFamily* FindFamily(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const MetricFamily& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

TEST(SampleOfTest, DividesBoundsAndSum) {
  Histogram histogram({10, 100});
  for (const uint64_t value : std::vector<uint64_t>{0, 10, 11, 100, 101, 5000}) {
    histogram.Observe(value);
  }
  const HistogramSample sample = SampleOf(histogram, 2);
  EXPECT_EQ(sample.upper_bounds, (std::vector<double>{5, 50}));
  EXPECT_EQ(sample.bucket_counts, (std::vector<uint64_t>{2, 2, 2}));
  EXPECT_EQ(sample.sum, 2611);

  // Microseconds shown as seconds come out as the decimal they are.
  Histogram latency({500, 1'000'000});
  latency.Observe(27'730);
  EXPECT_EQ(FormatMetricValue(SampleOf(latency, 1e6).sum), "0.02773");
  EXPECT_EQ(FormatMetricValue(SampleOf(latency, 1e6).upper_bounds[0]), "0.0005");
}

TEST(MetricsCollectionTest, FreshMetricsAreZero) {
  Metrics metrics({"https://h/a"});
  const std::map<std::string, double> samples =
      Samples(CollectMetricFamilies(metrics, {}, 1 << 20));
  for (const char* name :
       {"rangefs_reads_total", "rangefs_read_bytes_total", "rangefs_fetched_bytes_total",
        "rangefs_retries_total", "rangefs_open_handles", "rangefs_version_changes_total",
        "rangefs_cache_hits_total", "rangefs_http_transport_errors_total"}) {
    ASSERT_TRUE(samples.contains(name)) << name;
    EXPECT_EQ(samples.at(name), 0) << name;
  }
  EXPECT_EQ(samples.at("rangefs_cache_capacity_bytes"), 1 << 20);
  // No status seen, no sample: there is nothing to say about a code yet.
  const std::vector<MetricFamily> families = CollectMetricFamilies(metrics, {}, 1);
  const MetricFamily* requests = FindFamily(families, "rangefs_http_requests_total");
  ASSERT_NE(requests, nullptr);
  EXPECT_TRUE(requests->samples.empty());
  EXPECT_EQ(metrics.TrafficOf("https://h/a").requests, 0u);
}

TEST(MetricsCollectionTest, TheDiskCacheHasFamiliesOnlyWhenThereIsOne) {
  Metrics metrics;
  const std::map<std::string, double> without = Samples(CollectMetricFamilies(metrics, {}, 1));
  EXPECT_FALSE(without.contains("rangefs_disk_cache_hits_total"));
  const DiskCacheStats disk{.hits = 1,
                            .misses = 2,
                            .writes = 3,
                            .evictions = 4,
                            .errors = 5,
                            .dropped = 6,
                            .used_bytes = 7,
                            .max_bytes = 8};
  const std::map<std::string, double> with = Samples(CollectMetricFamilies(metrics, {}, 1, disk));
  EXPECT_EQ(with.at("rangefs_disk_cache_hits_total"), 1);
  EXPECT_EQ(with.at("rangefs_disk_cache_misses_total"), 2);
  EXPECT_EQ(with.at("rangefs_disk_cache_writes_total"), 3);
  EXPECT_EQ(with.at("rangefs_disk_cache_evictions_total"), 4);
  EXPECT_EQ(with.at("rangefs_disk_cache_errors_total"), 5);
  EXPECT_EQ(with.at("rangefs_disk_cache_dropped_total"), 6);
  EXPECT_EQ(with.at("rangefs_disk_cache_used_bytes"), 7);
  EXPECT_EQ(with.at("rangefs_disk_cache_capacity_bytes"), 8);
}

TEST(MetricsCollectionTest, OriginsAndProxiesHaveFamiliesOnceSeen) {
  Metrics metrics;
  EXPECT_EQ(FindFamily(CollectMetricFamilies(metrics, {}, 1), "rangefs_address_up"), nullptr);
  metrics.addresses().CountRequest(AddressKind::kOrigin, "http://mirror:81", 4096, false);
  metrics.addresses().CountRequest(AddressKind::kOrigin, "http://mirror:81", 0, true);
  metrics.addresses().SetUp(AddressKind::kOrigin, "http://mirror:81", false);
  metrics.addresses().CountRequest(AddressKind::kProxy, "http://cache:3128", 100, false);
  const std::map<std::string, double> samples = Samples(CollectMetricFamilies(metrics, {}, 1));
  const std::string mirror = "{kind=origin}{address=http://mirror:81}";
  const std::string proxy = "{kind=proxy}{address=http://cache:3128}";
  EXPECT_EQ(samples.at("rangefs_address_requests_total" + mirror), 2);
  EXPECT_EQ(samples.at("rangefs_address_body_bytes_total" + mirror), 4096);
  EXPECT_EQ(samples.at("rangefs_address_failures_total" + mirror), 1);
  EXPECT_EQ(samples.at("rangefs_address_up" + mirror), 0);
  EXPECT_EQ(samples.at("rangefs_address_requests_total" + proxy), 1);
  EXPECT_EQ(samples.at("rangefs_address_up" + proxy), 1);
}

TEST(MetricsCollectionTest, RequestsByStatusAndTimesBecomeFamilies) {
  Metrics metrics(fakes::SampleTrafficUrls());
  fakes::RecordSampleTraffic(metrics);

  const std::vector<MetricFamily> families = CollectMetricFamilies(metrics, {}, 1);
  const std::map<std::string, double> samples = Samples(families);
  EXPECT_EQ(samples.at("rangefs_http_requests_total{code=200}"), 1);
  EXPECT_EQ(samples.at("rangefs_http_requests_total{code=206}"), 2);
  EXPECT_EQ(samples.at("rangefs_http_requests_total{code=503}"), 1);
  EXPECT_EQ(samples.at("rangefs_http_transport_errors_total"), 1);
  EXPECT_EQ(samples.at("rangefs_fetched_bytes_total"), 262144 + 100 + 20);
  EXPECT_EQ(samples.at("rangefs_retries_total"), 2);

  const MetricFamily* duration = FindFamily(families, "rangefs_http_request_duration_seconds");
  ASSERT_NE(duration, nullptr);
  ASSERT_EQ(duration->type, MetricType::kHistogram);
  ASSERT_EQ(duration->histograms.size(), 1u);
  const HistogramSample& latency = duration->histograms[0];
  uint64_t count = 0;
  for (const uint64_t bucket : latency.bucket_counts) count += bucket;
  EXPECT_EQ(count, 5u);
  EXPECT_EQ(latency.sum, 17.0038);
  EXPECT_DOUBLE_EQ(latency.upper_bounds.front(), 0.0005);
  EXPECT_DOUBLE_EQ(latency.upper_bounds.back(), 60);
  // No response, no first byte: four observations, not five.
  const MetricFamily* first_byte = FindFamily(families, "rangefs_http_first_byte_seconds");
  ASSERT_NE(first_byte, nullptr);
  count = 0;
  for (const uint64_t bucket : first_byte->histograms[0].bucket_counts) count += bucket;
  EXPECT_EQ(count, 4u);
}

TEST(MetricsCollectionTest, ReadsHandlesReadaheadAndVersions) {
  Metrics metrics;
  fakes::RecordSampleReads(metrics);

  const std::vector<MetricFamily> families = CollectMetricFamilies(metrics,
                                                                   {.hits = 7,
                                                                    .misses = 3,
                                                                    .evictions = 2,
                                                                    .retired = 1,
                                                                    .cached_bytes = 4096,
                                                                    .cached_blocks = 1,
                                                                    .loading_blocks = 0},
                                                                   8192);
  const std::map<std::string, double> samples = Samples(families);
  EXPECT_EQ(samples.at("rangefs_reads_total"), 3);
  EXPECT_EQ(samples.at("rangefs_read_errors_total"), 1);
  EXPECT_EQ(samples.at("rangefs_read_bytes_total"), 4096);
  EXPECT_EQ(samples.at("rangefs_open_handles"), 1);
  EXPECT_EQ(samples.at("rangefs_version_changes_total"), 1);
  EXPECT_EQ(samples.at("rangefs_cache_hits_total"), 7);
  EXPECT_EQ(samples.at("rangefs_cache_misses_total"), 3);
  EXPECT_EQ(samples.at("rangefs_cache_evictions_total"), 2);
  EXPECT_EQ(samples.at("rangefs_cache_retired_blocks_total"), 1);
  EXPECT_EQ(samples.at("rangefs_cache_bytes"), 4096);
  EXPECT_EQ(samples.at("rangefs_cache_blocks"), 1);
  EXPECT_EQ(samples.at("rangefs_cache_capacity_bytes"), 8192);

  const MetricFamily* windows = FindFamily(families, "rangefs_readahead_window_bytes");
  ASSERT_NE(windows, nullptr);
  const HistogramSample& window = windows->histograms[0];
  EXPECT_EQ(window.sum, (1 << 20) + (4 << 20));
  // Exactly one observation in the 1 MiB bucket and one in the 4 MiB one.
  for (size_t i = 0; i < window.upper_bounds.size(); ++i) {
    const bool observed =
        window.upper_bounds[i] == (1 << 20) || window.upper_bounds[i] == (4 << 20);
    EXPECT_EQ(window.bucket_counts[i], observed ? 1u : 0u) << "le=" << window.upper_bounds[i];
  }
}

TEST(MetricsCollectionTest, CollectedTextHasEveryFamilyOnce) {
  Metrics metrics({"https://h/a"});
  metrics.CountRequest({.url = "https://h/a",
                        .status = 206,
                        .body_bytes = 1,
                        .total = microseconds(1),
                        .first_byte = microseconds(1)});
  const std::string text = FormatPrometheusText(CollectMetricFamilies(metrics, {}, 1));
  for (const char* family :
       {"rangefs_reads_total counter", "rangefs_read_bytes_total counter",
        "rangefs_fetched_bytes_total counter", "rangefs_http_requests_total counter",
        "rangefs_retries_total counter", "rangefs_http_request_duration_seconds histogram",
        "rangefs_readahead_window_bytes histogram", "rangefs_open_handles gauge",
        "rangefs_version_changes_total counter", "rangefs_cache_evictions_total counter"}) {
    const std::string type_line = std::string("# TYPE ") + family + "\n";
    const size_t at = text.find(type_line);
    ASSERT_NE(at, std::string::npos) << family;
    EXPECT_EQ(text.find(type_line, at + 1), std::string::npos) << family << " twice";
  }
  EXPECT_NE(text.find("rangefs_http_requests_total{code=\"206\"} 1\n"), std::string::npos);
  // The endpoint's body is that text.
  EXPECT_EQ(MetricsText(metrics, {}, 1), text);
}

}  // namespace
}  // namespace rangefs
