// Whether a request that went through a proxy failed because of the proxy, told apart from a
// failure of the origin behind it: a proxy that cannot be reached, refuses the tunnel or hangs
// before answering is at fault; so is one that says so itself (a Proxy-Status error of its own,
// RFC 9209; Squid's X-Squid-Error for its own refusals; 407). A proxy that relays the origin's
// error, or says the origin failed (Proxy-Status `connection_refused`, X-Squid-Error
// `ERR_CONNECT_FAIL`), did its job: the origin is retried as usual, through the same route.
//
// Thread-safety: pure functions.
#pragma once

#include <curl/curl.h>

#include <optional>
#include <string>
#include <string_view>

namespace rangefs::http {

// What one exchange through a proxy showed.
struct ProxyEvidence {
  CURLcode result = CURLE_OK;
  bool stalled = false;       // the stall watch cut it off
  bool got_response = false;  // a status line arrived (the proxy answered)
  long status = 0;            // of the last response
  long connect_status = 0;    // the proxy's answer to CONNECT (CURLINFO_HTTP_CONNECTCODE)
  std::optional<std::string> proxy_status;  // Proxy-Status
  std::optional<std::string> squid_error;   // X-Squid-Error
};

enum class ProxyOutcome {
  kCarried,      // the proxy relayed an answer, whatever the origin said
  kProxyFailed,  // the proxy is at fault: fail over
  kUnknown,      // cannot tell (cut off mid-body, or rangefs is stopping): report nothing
};

struct ProxyVerdict {
  ProxyOutcome outcome = ProxyOutcome::kUnknown;
  std::string reason;  // for kProxyFailed, what the log says
};

ProxyVerdict JudgeProxy(const ProxyEvidence& evidence);

// The error type of the Proxy-Status member closest to rangefs that names one, e.g.
// "connection_refused" from `cache1; error=connection_refused, cache2`.
std::optional<std::string> ProxyStatusError(std::string_view header);

// Whether a Proxy-Status error type names the proxy's own failure (not the next hop's).
bool IsProxyOwnError(std::string_view error_type);

}  // namespace rangefs::http
