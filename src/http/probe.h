// The probe: what a URL serves (size, validators, the final URL after redirects, whether Range
// requests are honoured), asked with HEAD and, where HEAD cannot tell, a "bytes=0-0" GET.
// Redirects are followed here, one checked hop at a time, so that credentials stay with the
// user's origin (RequestSetup) and no hop leaves http(s), or https for http unless allowed.
//
// Thread-safety: thread-safe; each call leases its own easy handle and blocks on it.
// Ownership: borrows the pool and the request setup for the call.
#pragma once

#include <chrono>
#include <string>

#include "http/curl_handle.h"
#include "http/request.h"
#include "rangefs/metrics.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs::http {

// The file `url` names, with `url` as its url and the address the redirects led to as its
// final_url. Each request it makes is counted in `metrics` (when given) under `url`. All its
// requests together, redirects included, take at most `budget` (the request timeout when
// zero, and never more than it).
Result<RemoteFileInfo> ProbeUrl(CurlHandlePool& pool, const RequestSetup& requests,
                                const std::string& url, Metrics* metrics = nullptr,
                                std::chrono::milliseconds budget = {});

}  // namespace rangefs::http
