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

// Whether two probes saw the same version: same size and the same validators, as sent. Where
// the file lives (final_url) is not part of its version.
bool SameVersion(const RemoteFileInfo& a, const RemoteFileInfo& b);

// The version for logs: "ETag \"5f-1a\", Last-Modified Sun, 06 Nov 1994 08:49:37 GMT, 26 bytes".
std::string DescribeVersion(const RemoteFileInfo& info);

}  // namespace rangefs
