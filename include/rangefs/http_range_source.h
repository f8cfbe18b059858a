// The libcurl-backed RangeSource.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "rangefs/header_file.h"
#include "rangefs/metrics.h"
#include "rangefs/range_source.h"
#include "rangefs/route_memory.h"

namespace rangefs {

struct HttpOptions {
  // Upper bound on one whole request, connect included. Bounds how long a reader can wait
  // for EIO when the server is gone or stalls.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  // Connect (TCP + TLS) budget: a refused or black-holed host fails fast, independent of the
  // (longer) request budget that a slow but live transfer may need.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(15)};
  // A response that delivers no byte for this long is aborted (and retried by the caller).
  std::chrono::milliseconds stall_timeout{std::chrono::seconds(15)};
  // Bytes a second a response must average over each stall_timeout, else it is aborted and
  // retried like a stall (a server trickling a few bytes a second never stalls). 0: no minimum.
  uint64_t min_rate = 1024;
  // Sent as User-Agent; some servers and CDNs refuse requests without one.
  std::string user_agent = "rangefs";
  // Prefetch requests running at once (demand requests are never held back).
  size_t max_parallel_prefetch = 8;
  // Most ranges asked for in one multi-range request (ReadOptions::max_ranges).
  size_t max_ranges = 16;
  // Once a stop is requested (rangefs is stopping), the requests that block their caller
  // (probes, listings) end within about a second with an error, instead of at their timeout:
  // a signal must not wait for a server that does not answer. Transfers on the engine end when
  // the source is destroyed.
  std::stop_token stop;

  // Security. Redirects are followed by rangefs itself (at most 10, http and https only), so
  // that credentials stay with the origin (scheme, host, port) of the URL the user gave.

  // Added to every request to the user's origin (--header, --header-file).
  std::vector<HttpHeader> headers;
  // Also send the headers, ~/.netrc and URL credentials to the origins redirects lead to.
  bool location_trusted = false;
  // Follow a redirect from https to http (without: the probe fails naming both URLs).
  bool allow_insecure_redirect = false;
  // CA certificates (PEM) to verify servers with instead of the system's; empty: the system's.
  std::string ca_file;
  // No verification of the server's certificate and host name (--insecure).
  bool insecure = false;
  // The netrc file (CURLOPT_NETRC_FILE); empty: libcurl's default, ~/.netrc. Used only for
  // requests that may carry credentials.
  std::string netrc_file;
  // Proxy URL (CURLOPT_PROXY); empty: libcurl's environment variables (http_proxy,
  // https_proxy, all_proxy, no_proxy).
  std::string proxy;

  // What earlier processes learned about routes (whether they serve several ranges at once),
  // and where this one keeps what it learns; null: nothing kept. Must outlive the source.
  RouteMemory* route_memory = nullptr;
};

// `metrics` (may be null; must outlive the source) counts every request the source makes.
std::unique_ptr<RangeSource> NewHttpRangeSource(const HttpOptions& options,
                                                Metrics* metrics = nullptr);

}  // namespace rangefs
