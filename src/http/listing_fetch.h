// Fetching one listing page: a GET that asks for JSON first, follows redirects hop by hop with
// the probe's rules, and keeps at most a given number of body bytes.
//
// Thread-safety: thread-safe; each call leases its own easy handle and blocks on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "http/curl_handle.h"
#include "http/request.h"
#include "rangefs/metrics.h"
#include "rangefs/status.h"

namespace rangefs::http {

struct FetchedPage {
  std::string body;
  std::string content_type;  // as sent; empty when none
  std::string final_url;     // after redirects: the page's links resolve against it
};

// GETs the listing page at `url`, all its redirects within `budget`. Errors: kNotFound for 404 and
// 410, kServerBusy for 408, 429 and 5xx, kHttpStatus for other statuses and refused redirects,
// kLimitExceeded when the body exceeds `max_bytes`, kTransport for the connection's failures.
// Requests are counted in `metrics` (when given) under `url`.
Result<FetchedPage> FetchListingPage(CurlHandlePool& pool, const RequestSetup& requests,
                                     const std::string& url, uint64_t max_bytes,
                                     std::chrono::milliseconds budget, Metrics* metrics);

}  // namespace rangefs::http
