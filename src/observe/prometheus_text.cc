#include "rangefs/prometheus_text.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <system_error>

namespace rangefs {
namespace {

// Doubles hold every integer up to 2^53 exactly; past it, integers are printed as what they
// are (a double), in the shortest form.
constexpr double kLargestExactInteger = 9007199254740992.0;

void AppendLabels(std::string& out, const std::vector<MetricLabel>& labels,
                  std::string_view le = {}) {
  if (labels.empty() && le.empty()) return;
  out += '{';
  bool first = true;
  for (const MetricLabel& label : labels) {
    if (!first) out += ',';
    first = false;
    out += label.name;
    out += "=\"";
    out += EscapeLabelValue(label.value);
    out += '"';
  }
  if (!le.empty()) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

void AppendLine(std::string& out, std::string_view name, std::string_view suffix,
                const std::vector<MetricLabel>& labels, std::string_view value,
                std::string_view le = {}) {
  out += name;
  out += suffix;
  AppendLabels(out, labels, le);
  out += ' ';
  out += value;
  out += '\n';
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void AppendHistogram(std::string& out, const std::string& name, const HistogramSample& sample) {
  assert(sample.bucket_counts.size() == sample.upper_bounds.size() + 1);
  // A missing count (a caller's mistake) counts as zero rather than reading past the end.
  const auto count_of = [&sample](size_t bucket) {
    return bucket < sample.bucket_counts.size() ? sample.bucket_counts[bucket] : 0;
  };
  uint64_t cumulative = 0;
  for (size_t i = 0; i < sample.upper_bounds.size(); ++i) {
    cumulative += count_of(i);
    AppendLine(out, name, "_bucket", sample.labels, std::to_string(cumulative),
               FormatMetricValue(sample.upper_bounds[i]));
  }
  cumulative += count_of(sample.upper_bounds.size());
  // _count is the +Inf bucket by definition: both come from the same sum, so they agree even
  // when the counts were read while observations went on.
  const std::string count = std::to_string(cumulative);
  AppendLine(out, name, "_bucket", sample.labels, count, "+Inf");
  AppendLine(out, name, "_sum", sample.labels, FormatMetricValue(sample.sum));
  AppendLine(out, name, "_count", sample.labels, count);
}

// Backslash and line feed escaped, and the double quote too when `quote` (label values; HELP
// text keeps its quotes as they are).
std::string Escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) { return Escape(value, true); }

std::string EscapeHelp(std::string_view help) { return Escape(help, false); }

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) <= kLargestExactInteger) {
    return std::to_string(static_cast<long long>(value));
  }
  char buffer[32];
  // The shortest digits that read back the same, as %g would lay them out: "0.0005", not
  // "5e-04"; "1e+20", not twenty digits.
  const std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general);
  assert(result.ec == std::errc());
  return std::string(buffer, result.ptr);
}

std::string FormatPrometheusText(std::span<const MetricFamily> families) {
  std::string out;
  for (const MetricFamily& family : families) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    out += EscapeHelp(family.help);
    out += "\n# TYPE ";
    out += family.name;
    out += ' ';
    out += TypeName(family.type);
    out += '\n';
    if (family.type == MetricType::kHistogram) {
      for (const HistogramSample& sample : family.histograms) {
        AppendHistogram(out, family.name, sample);
      }
      continue;
    }
    for (const MetricSample& sample : family.samples) {
      AppendLine(out, family.name, "", sample.labels, FormatMetricValue(sample.value));
    }
  }
  return out;
}

}  // namespace rangefs
