// The libcurl-backed RangeSource.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "rangefs/range_source.h"

namespace rangefs {

struct HttpOptions {
  // Upper bound on one whole request, connect included. Bounds how long a reader can wait
  // for EIO when the server is gone or stalls.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  // Connect (TCP + TLS) budget: a refused or black-holed host fails fast, independent of the
  // (longer) request budget that a slow but live transfer may need.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(15)};
  // Sent as User-Agent; some servers and CDNs refuse requests without one.
  std::string user_agent = "rangefs";
  // Prefetch requests running at once (demand requests are never held back).
  size_t max_parallel_prefetch = 8;
};

std::unique_ptr<RangeSource> NewHttpRangeSource(const HttpOptions& options);

}  // namespace rangefs
