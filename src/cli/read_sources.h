// ReadSources: the chain every read goes through, whole-file fallback, then retries, then the
// choice among a file's addresses, then HTTP (WholeFileFallback -> RetryingRangeSource ->
// MirroredRangeSource -> HttpRangeSource), with the timer the retries wait on. The mount and
// `rangefs warm` build the same chain from the same options.
//
// Thread-safety: top() is a RangeSource (thread-safe). Shutdown must not run while another
// thread is inside a call into top(); fetches it ends report to their sinks (or drop them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cli/option_values.h"
#include "rangefs/http_range_source.h"
#include "rangefs/metrics.h"
#include "rangefs/mirror_map.h"
#include "rangefs/mirrored_range_source.h"
#include "rangefs/range_source.h"
#include "rangefs/retrying_range_source.h"
#include "rangefs/route_memory.h"
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

// The HTTP options the mount and warm build alike from what their parsers filled in (Options and
// WarmOptions name these fields the same); `connections` is the most prefetches at once.
template <typename CommandOptions>
HttpOptions HttpOptionsFrom(const CommandOptions& options, size_t connections) {
  HttpOptions http;
  http.request_timeout = Milliseconds(options.timeout_seconds);
  http.connect_timeout = Milliseconds(options.connect_timeout_seconds);
  http.stall_timeout = Milliseconds(options.stall_timeout_seconds);
  http.min_rate = options.min_rate;
  http.max_parallel_prefetch = connections;
  http.headers = options.headers;
  http.location_trusted = options.location_trusted;
  http.allow_insecure_redirect = options.allow_insecure_redirect;
  http.ca_file = options.ca_file;
  http.insecure = options.insecure;
  http.netrc_file = options.netrc_file;
  http.proxy = options.proxy;
  return http;
}

// Which addresses a file's requests may take, beyond its URL and the HTTP options.
struct SourceRouting {
  MirrorMap mirrors;    // the other addresses of files (--mirror, URL1|URL2)
  bool spread = false;  // spread a file's requests over its addresses (--spread)
  // A usable disk cache's directory, where what routes were found to do is kept (DIR/routes)
  // for later mounts and warms; empty: nothing kept.
  std::string route_directory;
};

class ReadSources {
 public:
  // `metrics` must outlive this.
  ReadSources(const HttpOptions& http, const RetryConfig& retry, uint64_t max_full_fetch,
              Metrics& metrics, SourceRouting routing = {});
  ~ReadSources();
  ReadSources(const ReadSources&) = delete;
  ReadSources& operator=(const ReadSources&) = delete;

  RangeSource& top() { return fallback_; }
  // The choice among a file's addresses, for what it can tell about them.
  const MirroredRangeSource& mirrored() const { return mirrored_; }
  // The clock and timer of retries, and the clock of revalidation.
  const Scheduler& scheduler() const { return timer_; }

  // The timer stops first, so that no retry starts while the HTTP engine aborts its
  // transfers; their sinks still exist when it does.
  void Shutdown();

 private:
  static std::string TempDirectory();

  const std::unique_ptr<RouteMemory> routes_;  // before the HTTP source, which uses it
  std::unique_ptr<RangeSource> http_;
  TimerThread timer_;
  MirroredRangeSource mirrored_;
  RetryingRangeSource retrying_;
  WholeFileFallback fallback_;
};

}  // namespace rangefs
