// Sample activity counted into a Metrics, that both the counting tests (metrics_test) and the
// exposition tests (metrics_collection_test) check.
//
// RecordSampleReads: 3 reads (4096 bytes, 0 at end of file, 1 failed), 2 handles opened and 1
// closed, readahead windows of 1 MiB and 4 MiB, 1 version change.
//
// RecordSampleTraffic: requests and retries.
//
// Counts: https://h/a 2 requests (200 empty, 206 of 262144 bytes), https://h/b 2 requests (206
// of 100 bytes, one without a response) and 2 retries, https://elsewhere/x (not mounted) one
// 503 of 20 bytes. Request times sum to 17.0038 s; four of the five have a first byte.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "rangefs/metrics.h"

namespace rangefs::fakes {

// The URLs the sample's Metrics is made with (a duplicate URL shares its counters).
inline std::vector<std::string> SampleTrafficUrls() {
  return {"https://h/a", "https://h/b", "https://h/a"};
}

inline void RecordSampleReads(Metrics& metrics) {
  metrics.CountRead(4096, true);
  metrics.CountRead(0, true);  // at end of file
  metrics.CountRead(0, false);
  metrics.HandleOpened();
  metrics.HandleOpened();
  metrics.HandleClosed();
  metrics.ObserveReadahead(1 << 20);
  metrics.ObserveReadahead(4 << 20);
  metrics.CountVersionChange();
}

inline void RecordSampleTraffic(Metrics& metrics) {
  using std::chrono::microseconds;
  metrics.CountRequest({.url = "https://h/a",
                        .status = 200,
                        .body_bytes = 0,
                        .total = microseconds(700),
                        .first_byte = microseconds(600)});
  metrics.CountRequest({.url = "https://h/a",
                        .status = 206,
                        .body_bytes = 262144,
                        .total = microseconds(3000),
                        .first_byte = microseconds(900)});
  metrics.CountRequest({.url = "https://h/b",
                        .status = 206,
                        .body_bytes = 100,
                        .total = microseconds(2'000'000),
                        .first_byte = microseconds(1000)});
  metrics.CountRequest({.url = "https://h/b",
                        .status = 0,
                        .body_bytes = 0,
                        .total = microseconds(15'000'000),
                        .first_byte = microseconds(0)});
  // A URL that is not mounted counts only in the totals.
  metrics.CountRequest({.url = "https://elsewhere/x",
                        .status = 503,
                        .body_bytes = 20,
                        .total = microseconds(100),
                        .first_byte = microseconds(90)});
  metrics.CountRetry("https://h/b");
  metrics.CountRetry("https://h/b");
}

}  // namespace rangefs::fakes
