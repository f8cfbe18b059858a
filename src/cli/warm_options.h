// The command line of `rangefs warm`: which files to put into the disk cache, where the cache
// is, and the options that shape fetching and identity, under the mount's names and with the
// mount's defaults (the block size is part of a cached block's name: a warm with another
// --block-size than the mount's fills the cache with blocks the mount never asks for).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/mount_spec.h"
#include "rangefs/disk_cache.h"
#include "rangefs/header_file.h"
#include "rangefs/mirror_map.h"

namespace rangefs {

struct WarmOptions {
  // The files, in order: the URL operands (URL or NAME=URL, and URL1|URL2 for mirrors, as the
  // mount takes them; NAME is what progress lines show), then --url-file's entries (the
  // mount's URL file format).
  std::vector<MountSpec> files;
  // Every file's mirrors (URL1|URL2 in operands and URL-file lines, --mirror for a single URL;
  // MirrorMapFrom(files)), for the sources. Empty: none.
  MirrorMap mirrors;
  bool spread = false;      // --spread
  DiskCacheOptions cache;   // --cache-dir, --disk-cache-size, --disk-cache-min-free
  uint64_t block_size = 0;  // --block-size (the mount's default)
  size_t connections = 0;   // --connections: requests at once (the mount's default)
  // Bytes one request asks for at most: the mount's largest prefetch request.
  uint64_t max_request_bytes = 0;
  double timeout_seconds = 0;          // --timeout: per request, its retries included
  double connect_timeout_seconds = 0;  // --connect-timeout
  double stall_timeout_seconds = 0;    // --stall-timeout
  uint64_t min_rate = 0;               // --min-rate
  int retries = 0;                     // --retries
  uint64_t max_full_fetch = 0;         // --max-full-fetch: a server without Range support
  bool debug = false;                  // -d: debug logging (every request)
  // --progress-interval: seconds between plain progress lines (output not a terminal). 5 s
  // reads well in the log of a long warm and does not flood that of a short one.
  double progress_interval_seconds = 5;

  // Security; see HttpOptions.
  std::vector<HttpHeader> headers;
  bool location_trusted = false;
  bool allow_insecure_redirect = false;
  std::string ca_file;
  bool insecure = false;
  std::string netrc_file;
  std::string proxy;
};

struct WarmCommandLine {
  std::optional<WarmOptions> options;  // empty when the program should exit with exit_code
  int exit_code = 0;
};

// Parses `rangefs warm`'s arguments (argv[0] is "warm"). Prints --help and usage errors
// itself; usage errors exit with 2.
WarmCommandLine ParseWarmCommandLine(int argc, const char* const* argv);

}  // namespace rangefs
