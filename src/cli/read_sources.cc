#include "cli/read_sources.h"

#include <curl/curl.h>

#include <cstdlib>
#include <utility>

namespace rangefs {

CurlGlobal::CurlGlobal() : ok_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}

CurlGlobal::~CurlGlobal() {
  if (ok_) curl_global_cleanup();
}

std::unique_ptr<RouteMemory> RouteMemoryIn(const std::string& cache_dir) {
  if (cache_dir.empty()) return nullptr;
  return std::make_unique<RouteFile>(cache_dir + "/routes");
}

ReadSources::ReadSources(const HttpOptions& http, const RetryConfig& retry, uint64_t max_full_fetch,
                         Metrics& metrics, MirrorMap mirrors, bool spread)
    : http_(NewHttpRangeSource(http, &metrics)),
      mirrored_(*http_, std::move(mirrors), spread, &metrics),
      retrying_(mirrored_, timer_, retry, &metrics, http.stop),
      fallback_(retrying_, max_full_fetch, TempDirectory()) {}

ReadSources::~ReadSources() { Shutdown(); }

void ReadSources::Shutdown() {
  timer_.Stop();
  mirrored_.Stop();  // its probes of mirrors use the HTTP source
  http_.reset();
}

std::string ReadSources::TempDirectory() {
  const char* dir = std::getenv("TMPDIR");
  return dir && *dir ? dir : "/tmp";
}

}  // namespace rangefs
