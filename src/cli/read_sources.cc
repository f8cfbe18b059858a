#include "cli/read_sources.h"

#include <curl/curl.h>

#include <cstdlib>
#include <utility>

namespace rangefs {

CurlGlobal::CurlGlobal() : ok_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}

CurlGlobal::~CurlGlobal() {
  if (ok_) curl_global_cleanup();
}

namespace {

HttpOptions WithRouteMemory(HttpOptions options, RouteMemory* memory) {
  options.route_memory = memory;
  return options;
}

}  // namespace

ReadSources::ReadSources(const HttpOptions& http, const RetryConfig& retry, uint64_t max_full_fetch,
                         Metrics& metrics, SourceRouting routing)
    : routes_(routing.route_directory.empty()
                  ? nullptr
                  : std::make_unique<RouteFile>(routing.route_directory + "/routes")),
      http_(NewHttpRangeSource(WithRouteMemory(http, routes_.get()), &metrics)),
      mirrored_(*http_, std::move(routing.mirrors), routing.spread, &metrics),
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
