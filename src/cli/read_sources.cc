#include "cli/read_sources.h"

#include <curl/curl.h>

#include <cstdlib>

namespace rangefs {

CurlGlobal::CurlGlobal() : ok_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}

CurlGlobal::~CurlGlobal() {
  if (ok_) curl_global_cleanup();
}

ReadSources::ReadSources(const HttpOptions& http, const RetryConfig& retry, uint64_t max_full_fetch,
                         Metrics& metrics)
    : http_(NewHttpRangeSource(http, &metrics)),
      retrying_(*http_, timer_, retry, &metrics, http.stop),
      fallback_(retrying_, max_full_fetch, TempDirectory()) {}

ReadSources::~ReadSources() { Shutdown(); }

void ReadSources::Shutdown() {
  timer_.Stop();
  http_.reset();
}

std::string ReadSources::TempDirectory() {
  const char* dir = std::getenv("TMPDIR");
  return dir && *dir ? dir : "/tmp";
}

}  // namespace rangefs
