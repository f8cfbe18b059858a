// Metrics collection: what the metrics endpoint (--metrics) shows, built from the counters of
// Metrics (metrics.h) and the block cache's own statistics as Prometheus metric families
// (prometheus_text.h). Kept apart from Metrics so that the code that counts (the read path,
// HTTP, retries) depends on neither the block cache nor the exposition format.
//
// Thread-safety: pure functions of what they read; Metrics may be counting meanwhile, and each
// value is its counter's latest, not one snapshot of all of them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "rangefs/block_cache.h"
#include "rangefs/disk_cache.h"
#include "rangefs/metrics.h"
#include "rangefs/prometheus_text.h"

namespace rangefs {

// A histogram for the exposition: bounds and sum divided by `divisor` (1e6 turns microseconds
// into seconds; dividing, unlike multiplying by 1e-6, gives 0.02773 for 27730, not
// 0.027729999999999998).
HistogramSample SampleOf(const Histogram& histogram, double divisor);

// Every metric, for the endpoint; the cache's numbers are the cache's own counters, and
// `cache_capacity` its budget (--cache-size); the disk cache's, when there is one.
std::vector<MetricFamily> CollectMetricFamilies(
    const Metrics& metrics, const BlockCacheStats& cache, size_t cache_capacity,
    const std::optional<DiskCacheStats>& disk_cache = std::nullopt);

// The endpoint's body: CollectMetricFamilies in the Prometheus text format.
std::string MetricsText(const Metrics& metrics, const BlockCacheStats& cache, size_t cache_capacity,
                        const std::optional<DiskCacheStats>& disk_cache = std::nullopt);

}  // namespace rangefs
