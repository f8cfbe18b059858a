// What a probe learned about one remote file: where it lives, how big it is, and the
// validators that identify its version.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>

namespace rangefs {

struct RemoteFileInfo {
  std::string url;        // the URL as the user gave it
  std::string final_url;  // after redirects; range requests go here
  uint64_t size = 0;      // identity bytes
  std::string etag;       // as sent, quotes and W/ prefix included; empty if none
  std::optional<std::time_t> last_modified;
  // False when the probe saw the server answer a range request with the whole file. True
  // does not promise anything: every range answer is checked on its own.
  bool ranges_supported = true;
};

}  // namespace rangefs
