#include "http/request.h"

#include <algorithm>
#include <chrono>
#include <stop_token>
#include <utility>

#include "rangefs/header_file.h"
#include "rangefs/redact.h"

namespace rangefs::http {
namespace {

// Larger receive buffers mean fewer write callbacks and syscalls per megabyte; 256 KiB is where
// loopback throughput stops improving in libcurl's own measurements of CURLOPT_BUFFERSIZE.
constexpr long kReceiveBufferBytes = 256 * 1024;

// How long a proxy that failed is left alone: 1 s, doubling with each failure in a row, and at
// most 5 min, after which the preferred proxy is tried again (CernVM-FS resets after 300 s too).
constexpr BackoffLimits kProxyBackoff{.first = std::chrono::seconds(1),
                                      .most = std::chrono::seconds(300)};

std::unique_ptr<ProxyRoutes> RoutesFor(const std::string& proxy) {
  if (proxy.empty()) return nullptr;
  Result<ProxyList> list = ParseProxyList(proxy);
  // The command line checked it; a list that does not parse is one proxy, as libcurl reads it.
  if (!list.ok()) list = ProxyList{.groups = {{proxy}}};
  return std::make_unique<ProxyRoutes>(std::move(*list), kProxyBackoff);
}

std::vector<std::string> CurlHeaderLines(const std::vector<HttpHeader>& headers) {
  std::vector<std::string> lines;
  lines.reserve(headers.size());
  for (const HttpHeader& header : headers) lines.push_back(CurlHeaderLine(header));
  return lines;
}

}  // namespace

RequestSetup::RequestSetup(const HttpOptions& options, Metrics* metrics)
    : options_(options),
      header_lines_(CurlHeaderLines(options_.headers)),
      routes_(RoutesFor(options_.proxy)),
      metrics_(metrics) {}

void RequestSetup::Route(Request& request, std::string_view key) const {
  if (routes_) request.route = routes_->Choose(key);
}

ProxyOutcome RequestSetup::Judge(const Request& request, CURL* handle, CURLcode result,
                                 const Exchange& exchange, bool stalled) const {
  if (!routes_ || !request.route || request.route->direct()) return ProxyOutcome::kUnknown;
  ProxyEvidence evidence{.result = result,
                         .stalled = stalled,
                         .got_response = !exchange.status_line.empty(),
                         .status = ResponseCode(handle),
                         .proxy_status = ResponseHeader(handle, "Proxy-Status"),
                         .squid_error = ResponseHeader(handle, "X-Squid-Error")};
  curl_easy_getinfo(handle, CURLINFO_HTTP_CONNECTCODE, &evidence.connect_status);
  const ProxyVerdict verdict = JudgeProxy(evidence);
  const bool failed = verdict.outcome == ProxyOutcome::kProxyFailed;
  if (failed) {
    routes_->ReportProxyFailure(request.route->index, verdict.reason);
  } else if (verdict.outcome == ProxyOutcome::kCarried) {
    routes_->ReportSuccess(request.route->index, request.route->chosen);
  }
  if (metrics_) {
    const std::string name = routes_->Describe(request.route->index);
    curl_off_t body_bytes = 0;
    curl_easy_getinfo(handle, CURLINFO_SIZE_DOWNLOAD_T, &body_bytes);
    metrics_->addresses().CountRequest(AddressKind::kProxy, name,
                                       static_cast<uint64_t>(std::max<curl_off_t>(0, body_bytes)),
                                       failed);
    if (verdict.outcome != ProxyOutcome::kUnknown) {
      metrics_->addresses().SetUp(AddressKind::kProxy, name, !failed);
    }
  }
  return verdict.outcome;
}

Result<Request> RequestSetup::RequestFor(const http::UrlTarget& original,
                                         std::string_view url) const {
  Result<http::UrlTarget> target = http::ParseUrlTarget(url);
  if (!target.ok()) {
    return Status(target.status().code(), RedactUrl(url) + ": " + target.status().message());
  }
  Request request;
  request.url = std::move(target->request_url);
  request.credentials = options_.location_trusted || target->origin == original.origin;
  if (request.credentials) {
    request.user = original.user;
    request.password = original.password;
  }
  return request;
}

namespace {

int AbortWhenStopped(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::stop_token*>(user)->stop_requested() ? 1 : 0;
}

}  // namespace

void RequestSetup::EndOnStop(CURL* handle) const {
  if (!options_.stop.stop_possible()) return;
  curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &AbortWhenStopped);
  curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &options_.stop);
}

Status RequestSetup::Stopped() {
  return Status(ErrorCode::kInternal, "cancelled: rangefs is stopping");
}

bool RequestSetup::Configure(CURL* handle, const Request& request, Exchange& exchange,
                             CurlSlist& headers) const {
  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);  // signals and threads do not mix
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  // Redirects are followed one checked hop at a time, each hop a request of its own that gets
  // credentials only where it may: by the probe itself, and for a range GET by the retry
  // layer (kRedirected).
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(handle, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  curl_easy_setopt(handle, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, exchange.error.data());
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &OnHeaderLine);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &exchange);
  // No CURLOPT_ACCEPT_ENCODING: without Accept-Encoding the server sends identity bytes, and
  // range offsets mean offsets into the file itself.

  // Certificate chain and host name are verified (libcurl's default, made explicit).
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, options_.insecure ? 0L : 1L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, options_.insecure ? 0L : 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(handle, CURLOPT_CAINFO, options_.ca_file.c_str());
  // Without CURLOPT_PROXY libcurl reads http_proxy, https_proxy, all_proxy and no_proxy; an
  // empty one (DIRECT) means no proxy, whatever they say.
  if (request.route) curl_easy_setopt(handle, CURLOPT_PROXY, request.route->proxy.c_str());

  if (!request.credentials) {
    curl_easy_setopt(handle, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_IGNORED));
    return true;
  }
  curl_easy_setopt(handle, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_OPTIONAL));
  if (!options_.netrc_file.empty()) {
    curl_easy_setopt(handle, CURLOPT_NETRC_FILE, options_.netrc_file.c_str());
  }
  if (request.user) curl_easy_setopt(handle, CURLOPT_USERNAME, request.user->c_str());
  if (request.password) curl_easy_setopt(handle, CURLOPT_PASSWORD, request.password->c_str());
  for (const std::string& line : header_lines_) {
    if (!http::AppendHeader(headers, line)) return false;
  }
  return true;
}

}  // namespace rangefs::http
