#include "http/proxy_verdict.h"

#include <algorithm>
#include <array>

#include "http/syntax.h"

namespace rangefs::http {
namespace {

// RFC 9209 section 2.3: the error types a proxy gives for its own failures. Every other type
// (dns_*, destination_*, connection_*, tls_*, http_response_*) is about the next hop.
constexpr std::array<std::string_view, 6> kProxyOwnErrors = {
    "proxy_internal_error", "proxy_configuration_error", "proxy_loop_detected",
    "http_request_denied",  "http_request_error",        "connection_limit_reached"};

// Squid's error pages (X-Squid-Error: ERR_NAME errno) for refusals and failures of its own; the
// rest (ERR_CONNECT_FAIL, ERR_DNS_FAIL, ERR_READ_TIMEOUT, ...) are about the origin.
constexpr std::array<std::string_view, 10> kSquidOwnErrors = {
    "ERR_ACCESS_DENIED",  "ERR_CACHE_ACCESS_DENIED", "ERR_FORWARDING_DENIED",
    "ERR_CANNOT_FORWARD", "ERR_SHUTTING_DOWN",       "ERR_INVALID_REQ",
    "ERR_INVALID_URL",    "ERR_UNSUP_REQ",           "ERR_NO_RELAY",
    "ERR_DISK_IO"};

std::string_view Trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

ProxyVerdict Failed(std::string reason) {
  return ProxyVerdict{.outcome = ProxyOutcome::kProxyFailed, .reason = std::move(reason)};
}

}  // namespace

std::optional<std::string> ProxyStatusError(std::string_view header) {
  std::optional<std::string> found;
  // Members are separated by commas, parameters by semicolons; error types are tokens, so a
  // quoted string with a comma inside can only hold details, which are skipped by name.
  size_t start = 0;
  while (start <= header.size()) {
    size_t end = header.find(',', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view member = header.substr(start, end - start);
    size_t at = 0;
    while ((at = member.find(';', at)) != std::string_view::npos) {
      ++at;
      std::string_view parameter = member.substr(at);
      parameter = parameter.substr(0, parameter.find(';'));
      parameter = Trimmed(parameter);
      const size_t equals = parameter.find('=');
      if (equals == std::string_view::npos) continue;
      if (EqualsIgnoreCase(Trimmed(parameter.substr(0, equals)), "error")) {
        found = std::string(Trimmed(parameter.substr(equals + 1)));
      }
    }
    start = end + 1;
  }
  return found;
}

bool IsProxyOwnError(std::string_view error_type) {
  return std::find(kProxyOwnErrors.begin(), kProxyOwnErrors.end(), error_type) !=
         kProxyOwnErrors.end();
}

ProxyVerdict JudgeProxy(const ProxyEvidence& evidence) {
  if (evidence.connect_status != 0 &&
      (evidence.connect_status < 200 || evidence.connect_status > 299)) {
    return Failed("CONNECT answered " + std::to_string(evidence.connect_status));
  }
  if (!evidence.got_response) {
    if (evidence.stalled) return Failed("no answer");
    // Stopping (the engine cancelled it), or rangefs's own doing: nothing about the proxy.
    if (evidence.result == CURLE_OK || evidence.result == CURLE_ABORTED_BY_CALLBACK ||
        evidence.result == CURLE_WRITE_ERROR || evidence.result == CURLE_OUT_OF_MEMORY) {
      return {};
    }
    return Failed(curl_easy_strerror(evidence.result));
  }
  if (evidence.status == 407) return Failed("407 Proxy Authentication Required");
  if (evidence.proxy_status) {
    if (const std::optional<std::string> error = ProxyStatusError(*evidence.proxy_status);
        error && IsProxyOwnError(*error)) {
      return Failed("Proxy-Status " + *error);
    }
  }
  if (evidence.squid_error) {
    const std::string_view name =
        std::string_view(*evidence.squid_error).substr(0, evidence.squid_error->find(' '));
    if (std::find(kSquidOwnErrors.begin(), kSquidOwnErrors.end(), name) != kSquidOwnErrors.end()) {
      return Failed("X-Squid-Error " + std::string(name));
    }
  }
  // Headers arrived: the proxy relayed an answer. A cut-off body after them may be either's.
  if (evidence.result != CURLE_OK && evidence.result != CURLE_WRITE_ERROR) return {};
  return ProxyVerdict{.outcome = ProxyOutcome::kCarried, .reason = {}};
}

}  // namespace rangefs::http
