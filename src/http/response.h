// Reading one HTTP exchange made with a libcurl easy handle: the status line and error text it
// collected, the last response's headers and status, and how they read in an error message.
// Shared by the probe and the range transfers.
//
// Thread-safety: an Exchange belongs to the transfer that owns its easy handle, and is written
// only by libcurl's callbacks on that handle's thread. The functions keep no state.
// Ownership: the caller owns the Exchange and must keep it alive while the handle it was given
// to (CURLOPT_HEADERDATA, CURLOPT_ERRORBUFFER) may run.
#pragma once

#include <curl/curl.h>

#include <array>
#include <cstddef>
#include <optional>
#include <string>

#include "rangefs/metrics.h"
#include "rangefs/status.h"

namespace rangefs::http {

// What one request/response exchange collected besides its body.
struct Exchange {
  std::array<char, CURL_ERROR_SIZE> error{};
  std::string status_line;  // of the last response, e.g. "HTTP/1.1 206 Partial Content"
};

// CURLOPT_HEADERFUNCTION; `user` is the Exchange (CURLOPT_HEADERDATA).
size_t OnHeaderLine(char* data, size_t size, size_t count, void* user);

// The value of header `name` in the last response (after any redirects), if it has one.
std::optional<std::string> ResponseHeader(CURL* handle, const char* name);

long ResponseCode(CURL* handle);

// "HTTP 404 Not Found" from "HTTP/1.1 404 Not Found"; HTTP/2 has no reason phrase.
std::string DescribeStatus(const Exchange& exchange, long code);

// Counts the request just performed on `handle` in `metrics` (nothing when null), under the
// file whose URL (as the user gave it) is `url`: its status, body bytes and times as libcurl
// measured them.
void CountRequest(Metrics* metrics, const std::string& url, CURL* handle);

// kTransport with libcurl's own account of the failure (its error buffer, else the code's text).
Status TransportError(CURLcode code, const Exchange& exchange);

// kServerBusy for a status that says the server is busy or failing for now (408, 429, 5xx),
// with the wait its Retry-After asks for (seconds or an HTTP-date); nullopt for any other
// status. What may pass is retried where retrying is right (reads, revalidation probes).
std::optional<Status> ServerBusyStatus(CURL* handle, long code, const Exchange& exchange);

}  // namespace rangefs::http
