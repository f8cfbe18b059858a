// Command-line options of the rangefs binary, parsed with CLI11.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/mount_options.h"
#include "cli/mount_spec.h"
#include "rangefs/disk_cache.h"
#include "rangefs/header_file.h"
#include "rangefs/metrics_server.h"
#include "rangefs/mirror_map.h"
#include "rangefs/read_options.h"

namespace rangefs {

struct Options {
  // "URL", "NAME=URL", "URL1|URL2" or "NAME=URL1|URL2": one file or directory each (the
  // others after '|' are its mirrors).
  std::vector<std::string> operands;
  // --url-file: more entries, one a line (see cli/url_file.h); made absolute at parsing, since
  // the daemon runs in "/". Empty: none.
  std::string url_file;
  // What to mount, parsed from the above, --name and --mirror (EntriesOf, in
  // cli/command_entries.h), so that a bad operand or URL file is a usage error: the operands,
  // then the URL file's entries, each with its mirrors.
  std::vector<MountSpec> entries;
  // Every entry's mirrors (MirrorMapFrom(entries)), for the sources. Empty: none.
  MirrorMap mirrors;
  bool spread = false;  // --spread: a mirrored file's segments over all its addresses
  std::string mountpoint;
  bool foreground = false;                // -f: stay attached to the terminal
  bool debug = false;                     // -d: foreground, debug logging, FUSE debug output
  std::vector<std::string> fuse_options;  // -o, passed to libfuse
  std::string name;                       // --name: the file name of the single URL
  std::string log_file;                   // --log-file: where logs go once mounted
  double timeout_seconds = 60;            // per fetch, retries included: bounds a read's wait
  double connect_timeout_seconds = 15;    // per connection attempt
  double stall_timeout_seconds = 15;      // a response that sends nothing this long is retried
  // --min-rate: bytes a second a response must average over each --stall-timeout, else it is
  // retried like a stall. 1 KiB/s (CernVM-FS's floor too) is far below any link worth reading
  // from, yet a server trickling a few bytes a second is cut off in one window, not one
  // --timeout.
  uint64_t min_rate = 1024;
  int retries = 5;                              // tries after the first, for failures that may pass
  uint64_t max_full_fetch = uint64_t{1} << 30;  // largest file downloaded whole (no Range)
  // How old a confirmation of a file's version may be when it is looked up or opened; also how
  // long the kernel caches names and attributes.
  double revalidate_seconds = 60;
  // --dir-ttl: how long a directory listing is trusted before it is fetched again. Empty: as
  // long as a file's version (revalidate_seconds).
  std::optional<double> dir_ttl_seconds;
  // --max-listing-size: the largest listing page read, in bytes. 32 MiB holds a 100,000-entry
  // nginx JSON or HTML listing (10-15 MB) twice over, yet bounds what a page that never ends
  // or a 1,000,000-link page can make rangefs allocate.
  uint64_t max_listing_size = uint64_t{32} << 20;
  // --max-dir-entries: most entries of one directory; more makes the directory fail with EIO.
  uint64_t max_dir_entries = 250000;
  ReadOptions read;  // cache, readahead and parallelism
  // --cache-dir, --disk-cache-size, --disk-cache-min-free: the persistent disk cache, off while
  // disk_cache.directory is empty. The directory is made absolute at parsing (the daemon runs
  // in "/").
  DiskCacheOptions disk_cache;
  // --metrics: where the Prometheus endpoint listens; empty: no endpoint (the default, since it
  // is one more socket, and the counters behind the extended attributes run anyway).
  std::optional<MetricsAddress> metrics;

  // Security; see HttpOptions for what each does.
  std::vector<HttpHeader> headers;       // --header in order, then each --header-file's
  bool location_trusted = false;         // credentials follow redirects to other origins
  bool allow_insecure_redirect = false;  // a redirect from https to http is followed
  std::string ca_file;                   // --cacert; empty: the system's CA certificates
  bool insecure = false;                 // no TLS verification
  std::string netrc_file;                // empty: ~/.netrc
  std::string proxy;                     // empty: libcurl's *_proxy environment variables
};

struct CommandLine {
  std::optional<Options> options;  // empty when the program should exit with exit_code
  int exit_code = 0;
};

// Parses argv, and the operands and URL file into `entries` and `mirrors`. Prints --help,
// --version and usage errors itself; usage errors exit with 2.
// `-o` options naming a long option are that option (see rangefs/mount_options.h), and an
// option given twice takes its last value, as mount(8) options do.
CommandLine ParseCommandLine(int argc, char** argv);

// Reads --disk-cache-min-free: a size with a binary suffix (512M, 2G) or a percentage of the
// filesystem ("5%"), into `options`. kInvalidArgument for anything else.
Status ParseDiskMinFree(std::string_view text, DiskCacheOptions& options);

// The long options ParseCommandLine knows, and its --help text.
std::vector<LongOption> CommandLineLongOptions();
std::string CommandLineHelp();

}  // namespace rangefs
