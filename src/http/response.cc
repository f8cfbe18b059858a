#include "http/response.h"

#include <ctime>
#include <string_view>

#include "http/retry_after.h"

namespace rangefs::http {

size_t OnHeaderLine(char* data, size_t size, size_t count, void* user) {
  const size_t length = size * count;
  std::string_view line(data, length);
  if (line.starts_with("HTTP/")) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    static_cast<Exchange*>(user)->status_line = line;
  }
  return length;
}

std::optional<std::string> ResponseHeader(CURL* handle, const char* name) {
  curl_header* header = nullptr;
  // request -1: the last response, after any redirects.
  if (curl_easy_header(handle, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK) {
    return std::nullopt;
  }
  return std::string(header->value);
}

long ResponseCode(CURL* handle) {
  long code = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

std::string DescribeStatus(const Exchange& exchange, long code) {
  const size_t space = exchange.status_line.find(' ');
  if (space == std::string::npos) return "HTTP " + std::to_string(code);
  return "HTTP " + exchange.status_line.substr(space + 1);
}

void CountRequest(Metrics* metrics, const std::string& url, CURL* handle) {
  if (!metrics) return;
  RequestOutcome outcome;
  outcome.url = url;
  outcome.status = ResponseCode(handle);
  curl_off_t value = 0;
  if (curl_easy_getinfo(handle, CURLINFO_SIZE_DOWNLOAD_T, &value) == CURLE_OK && value > 0) {
    outcome.body_bytes = static_cast<uint64_t>(value);
  }
  value = 0;
  if (curl_easy_getinfo(handle, CURLINFO_TOTAL_TIME_T, &value) == CURLE_OK) {
    outcome.total = std::chrono::microseconds(value);
  }
  value = 0;
  if (curl_easy_getinfo(handle, CURLINFO_STARTTRANSFER_TIME_T, &value) == CURLE_OK) {
    outcome.first_byte = std::chrono::microseconds(value);
  }
  metrics->CountRequest(outcome);
  char* effective_url = nullptr;
  curl_easy_getinfo(handle, CURLINFO_EFFECTIVE_URL, &effective_url);
  if (effective_url) {
    metrics->addresses().CountRequest(AddressKind::kOrigin, OriginOf(effective_url),
                                      outcome.body_bytes,
                                      outcome.status == 0 || outcome.status >= 500);
  }
}

Status TransportError(CURLcode code, const Exchange& exchange) {
  const char* detail = exchange.error[0] != '\0' ? exchange.error.data() : curl_easy_strerror(code);
  return Status(ErrorCode::kTransport, detail);
}

std::optional<Status> ServerBusyStatus(CURL* handle, long code, const Exchange& exchange) {
  if (code != 408 && code != 429 && (code < 500 || code > 599)) return std::nullopt;
  Status busy(ErrorCode::kServerBusy, DescribeStatus(exchange, code));
  if (const std::optional<std::string> value = ResponseHeader(handle, "Retry-After")) {
    if (const std::optional<std::chrono::seconds> delay =
            ParseRetryAfter(*value, std::time(nullptr))) {
      return std::move(busy).WithRetryAfter(*delay);
    }
  }
  return busy;
}

}  // namespace rangefs::http
