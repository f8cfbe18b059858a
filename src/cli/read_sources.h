// ReadSources: the chain every read goes through, whole-file fallback, then retries, then HTTP
// (WholeFileFallback -> RetryingRangeSource -> HttpRangeSource), with the timer the retries
// wait on. The mount and `rangefs warm` build the same chain from the same options.
//
// Thread-safety: top() is a RangeSource (thread-safe). Shutdown must not run while another
// thread is inside a call into top(); fetches it ends report to their sinks (or drop them).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "rangefs/http_range_source.h"
#include "rangefs/metrics.h"
#include "rangefs/range_source.h"
#include "rangefs/retrying_range_source.h"
#include "rangefs/scheduler.h"
#include "rangefs/whole_file_fallback.h"

namespace rangefs {

// libcurl's global state, initialized before the first handle and cleaned up after the last:
// the first object of a command that makes requests, the last to go.
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal();
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
  bool ok() const { return ok_; }

 private:
  const bool ok_;
};

class ReadSources {
 public:
  // `metrics` must outlive this.
  ReadSources(const HttpOptions& http, const RetryConfig& retry, uint64_t max_full_fetch,
              Metrics& metrics);
  ~ReadSources();
  ReadSources(const ReadSources&) = delete;
  ReadSources& operator=(const ReadSources&) = delete;

  RangeSource& top() { return fallback_; }
  // The clock and timer of retries, and the clock of revalidation.
  const Scheduler& scheduler() const { return timer_; }

  // The timer stops first, so that no retry starts while the HTTP engine aborts its
  // transfers; their sinks still exist when it does.
  void Shutdown();

 private:
  static std::string TempDirectory();

  std::unique_ptr<RangeSource> http_;
  TimerThread timer_;
  RetryingRangeSource retrying_;
  WholeFileFallback fallback_;
};

}  // namespace rangefs
