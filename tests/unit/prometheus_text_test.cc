#include "rangefs/prometheus_text.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace rangefs {
namespace {

TEST(PrometheusTextTest, SmallRegistryExactly) {
  const std::vector<MetricFamily> families = {
      {.name = "rangefs_reads_total",
       .help = "Reads served.",
       .type = MetricType::kCounter,
       .samples = {{.labels = {}, .value = 42}},
       .histograms = {}},
      {.name = "rangefs_http_requests_total",
       .help = "HTTP requests by status.",
       .type = MetricType::kCounter,
       .samples = {{.labels = {{"code", "200"}}, .value = 3},
                   {.labels = {{"code", "206"}}, .value = 1048576}},
       .histograms = {}},
      {.name = "rangefs_open_handles",
       .help = "Open file handles.",
       .type = MetricType::kGauge,
       .samples = {{.labels = {}, .value = 0}},
       .histograms = {}},
      {.name = "rangefs_latency_seconds",
       .help = "Latency.",
       .type = MetricType::kHistogram,
       .samples = {},
       .histograms = {{.labels = {},
                       .upper_bounds = {0.005, 0.25, 1},
                       .bucket_counts = {2, 0, 3, 1},
                       .sum = 4.5}}},
  };
  EXPECT_EQ(FormatPrometheusText(families),
            "# HELP rangefs_reads_total Reads served.\n"
            "# TYPE rangefs_reads_total counter\n"
            "rangefs_reads_total 42\n"
            "# HELP rangefs_http_requests_total HTTP requests by status.\n"
            "# TYPE rangefs_http_requests_total counter\n"
            "rangefs_http_requests_total{code=\"200\"} 3\n"
            "rangefs_http_requests_total{code=\"206\"} 1048576\n"
            "# HELP rangefs_open_handles Open file handles.\n"
            "# TYPE rangefs_open_handles gauge\n"
            "rangefs_open_handles 0\n"
            "# HELP rangefs_latency_seconds Latency.\n"
            "# TYPE rangefs_latency_seconds histogram\n"
            "rangefs_latency_seconds_bucket{le=\"0.005\"} 2\n"
            "rangefs_latency_seconds_bucket{le=\"0.25\"} 2\n"
            "rangefs_latency_seconds_bucket{le=\"1\"} 5\n"
            "rangefs_latency_seconds_bucket{le=\"+Inf\"} 6\n"
            "rangefs_latency_seconds_sum 4.5\n"
            "rangefs_latency_seconds_count 6\n");
}

TEST(PrometheusTextTest, HistogramLabelsComeBeforeLe) {
  const std::vector<MetricFamily> families = {
      {.name = "h",
       .help = "",
       .type = MetricType::kHistogram,
       .samples = {},
       .histograms = {{.labels = {{"file", "a"}},
                       .upper_bounds = {1048576},
                       .bucket_counts = {0, 0},
                       .sum = 0}}},
  };
  EXPECT_EQ(FormatPrometheusText(families),
            "# HELP h \n"
            "# TYPE h histogram\n"
            "h_bucket{file=\"a\",le=\"1048576\"} 0\n"
            "h_bucket{file=\"a\",le=\"+Inf\"} 0\n"
            "h_sum{file=\"a\"} 0\n"
            "h_count{file=\"a\"} 0\n");
}

TEST(PrometheusTextTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue(R"(a "quoted" C:\path)"), R"(a \"quoted\" C:\\path)");
  EXPECT_EQ(EscapeLabelValue("two\nlines"), "two\\nlines");
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  // HELP keeps double quotes as they are.
  EXPECT_EQ(EscapeHelp("say \"hi\" \\ then\nmore"), "say \"hi\" \\\\ then\\nmore");

  const std::vector<MetricFamily> families = {
      {.name = "m",
       .help = "line one\nline two",
       .type = MetricType::kGauge,
       .samples = {{.labels = {{"file", "x\"y\\z\n.bin"}, {"kind", "b"}}, .value = 1}},
       .histograms = {}},
  };
  EXPECT_EQ(FormatPrometheusText(families),
            "# HELP m line one\\nline two\n"
            "# TYPE m gauge\n"
            "m{file=\"x\\\"y\\\\z\\n.bin\",kind=\"b\"} 1\n");
}

TEST(PrometheusTextTest, Values) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(100000000), "100000000");  // not 1e+08
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(0.001), "0.001");
  EXPECT_EQ(FormatMetricValue(0.0005), "0.0005");
  EXPECT_EQ(FormatMetricValue(0.0000125), "1.25e-05");
  EXPECT_EQ(FormatMetricValue(2.5), "2.5");
  EXPECT_EQ(FormatMetricValue(1e20), "1e+20");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(PrometheusTextTest, EmptyRegistryIsEmptyText) { EXPECT_EQ(FormatPrometheusText({}), ""); }

}  // namespace
}  // namespace rangefs
