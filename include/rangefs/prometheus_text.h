// The Prometheus text exposition format (version 0.0.4): metric families in, the text a
// scraper reads out. Pure: no I/O, no clock, no state. Metrics (metrics.h) says what is
// measured; this says how it is written.
//
// Thread-safety: pure functions on values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rangefs {

enum class MetricType { kCounter, kGauge, kHistogram };

struct MetricLabel {
  std::string name;
  std::string value;  // any text: escaped when written
};

// One value of a counter or gauge.
struct MetricSample {
  std::vector<MetricLabel> labels;
  double value = 0;
};

// One histogram of a family: its buckets as counted, not yet cumulative.
struct HistogramSample {
  std::vector<MetricLabel> labels;
  // Ascending; each bucket counts the observations <= its bound and > the previous one.
  std::vector<double> upper_bounds;
  // upper_bounds.size() + 1 counts: the last one counts the observations above every bound.
  std::vector<uint64_t> bucket_counts;
  double sum = 0;
};

struct MetricFamily {
  std::string name;  // [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in _total
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<MetricSample> samples;        // counters and gauges
  std::vector<HistogramSample> histograms;  // histograms
};

// The families in order, each as "# HELP", "# TYPE" and its samples; a histogram as cumulative
// _bucket lines (le="+Inf" last), then _sum and _count (the +Inf bucket's count).
std::string FormatPrometheusText(std::span<const MetricFamily> families);

// A label value as written between the quotes: backslash, double quote and line feed escaped.
std::string EscapeLabelValue(std::string_view value);
// HELP text: backslash and line feed escaped.
std::string EscapeHelp(std::string_view help);
// A sample value: integers exactly ("1048576", not "1.048576e+06"), other numbers in the
// shortest form that reads back the same, "+Inf", "-Inf" and "NaN".
std::string FormatMetricValue(double value);

// The Content-Type of the format.
inline constexpr std::string_view kPrometheusTextContentType =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace rangefs
