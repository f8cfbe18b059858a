#include "cli/options.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/command_entries.h"
#include "cli/mount_options.h"
#include "cli/option_values.h"
#include "cli/version.h"

namespace rangefs {
namespace {

constexpr int kUsageExitCode = 2;

// What the parser fills in besides Options, checked and moved into Options after parsing.
struct ParseTargets {
  std::vector<std::string> positionals;   // [NAME=]URL[|MIRROR]... MOUNTPOINT
  std::vector<std::string> mirror_urls;   // --mirror
  std::vector<std::string> header_lines;  // --header
  std::vector<std::string> header_files;  // --header-file
  std::string metrics_address;            // --metrics, checked after parsing
  double dir_ttl_seconds = 0;             // --dir-ttl, when given
  std::string disk_min_free = "5%";       // --disk-cache-min-free, checked after parsing
};

constexpr const char* kAppDescription =
    "Mount remote HTTP(S) files as local read-only files, read with Range requests.";

// Every option of the command line and where its value goes.
void DefineOptions(CLI::App& app, Options& options, ParseTargets& targets) {
  app.footer(
      "Each URL becomes one read-only file in MOUNTPOINT, named after the last segment of its\n"
      "path (percent-decoded) or NAME; a URL whose path ends in '/' (or an S3 ListObjectsV2\n"
      "URL, ?list-type=2) becomes a directory. URL1|URL2 (or NAME=URL1|URL2) is one entry at\n"
      "several addresses: the first is probed and names it, the others are its mirrors, of\n"
      "the same kind, trusted to serve the same bytes. rangefs probes every URL operand before\n"
      "mounting and exits non-zero, mounting nothing, if one cannot be read; the entries of\n"
      "--url-file are probed on first use. Unmount with: fusermount3 -u MOUNTPOINT\n\n"
      "mount(8) and /etc/fstab: mount -t fuse.rangefs URL MOUNTPOINT -o OPTIONS. Every long\n"
      "option above is also -o key=value with _ between words (--cache-size 1G is\n"
      "-o cache_size=1G; flags are -o key: -o debug, -o no_open_prefetch); -o name=NAME names\n"
      "the file. Other -o options go to FUSE (allow_other, exec, ...).\n" +
      std::string(IgnoredMountOptionsHelp()) +
      "\n\nOnce mounted, rangefs logs to syslog (-f: stderr; --log-file: that file). Where\n"
      "nothing listens on /dev/log, it keeps logging to stderr if stderr is a regular file,\n"
      "else it warns at start that later messages are lost.");
  // Built only when asked for: the text queries libfuse and libcurl.
  app.set_version_flag(
      "--version", [] { return VersionText(); }, "Print versions of rangefs and its libraries");

  std::vector<std::string>& positionals = targets.positionals;
  // At least MOUNTPOINT: with --url-file, URLs are optional (checked after parsing).
  app.add_option("operands", positionals, "[NAME=]URL[|MIRROR]... MOUNTPOINT")
      ->required()
      ->expected(-1);
  app.add_flag("-f,--foreground", options.foreground,
               "Stay in the foreground instead of daemonizing once mounted");
  app.add_flag("-d,--debug", options.debug,
               "Foreground with debug logging (every request) and FUSE debug output");
  app.add_option("-o", options.fuse_options,
                 "Mount options, comma-separated: any long option as key[=value] "
                 "(cache_size=1G, debug), else a FUSE option (allow_other, ...); repeatable")
      ->type_name("OPT[,OPT...]")
      ->allow_extra_args(false);
  app.add_option("--name", options.name,
                 "File name of the single URL, as -o name=NAME in an fstab line (with several "
                 "URLs, write NAME=URL). Default: the URL's last path segment")
      ->type_name("NAME");
  AddMirrorOptions(app, targets.mirror_urls, options.spread);
  app.add_option("--url-file", options.url_file,
                 "Also mount the entries listed in FILE, one URL or PATH=URL a line (PATH may "
                 "hold '/' to make folders; URL1|URL2 gives mirrors; lines starting with # are "
                 "comments); probed on first use, not at mount. With it, URL operands are "
                 "optional. Default: none")
      ->type_name("FILE");
  app.add_option("--log-file", options.log_file,
                 "Once mounted, append log lines to FILE instead of sending them to syslog (or, "
                 "with -f, stderr). Default: syslog")
      ->type_name("FILE");
  app.add_option("--timeout", options.timeout_seconds,
                 "Seconds a fetch may take, retries and their waits included, before the read "
                 "fails with EIO")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  AddRequestOptions(app, {.connect_timeout_seconds = options.connect_timeout_seconds,
                          .retries = options.retries,
                          .stall_timeout_seconds = options.stall_timeout_seconds,
                          .min_rate = options.min_rate});

  app.add_option("--revalidate", options.revalidate_seconds,
                 "Seconds a file's version stays trusted: after that, looking the file up or "
                 "opening it first asks the server (HEAD) whether it changed; also how long "
                 "the kernel caches names and sizes. 0: ask on every open. Without ETag or "
                 "Last-Modified from the server, only changes of size are noticed")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--dir-ttl", targets.dir_ttl_seconds,
                 "Seconds a directory listing stays trusted: after that, the next lookup or "
                 "readdir in it fetches it again (new files appear, removed ones disappear). "
                 "Default: the value of --revalidate")
      ->check(CLI::NonNegativeNumber);

  // Sizes take binary suffixes (64K, 1M, 2G) like dd and fallocate.
  const auto as_size = CLI::AsSizeValue(false);
  app.add_option("--block-size", options.read.block_size,
                 "Unit of caching and of the smallest request, in bytes")
      ->transform(as_size)
      ->check(CLI::Range(uint64_t{4096}, uint64_t{64} << 20))
      ->default_str(HumanSize(options.read.block_size));
  app.add_option("--cache-size", options.read.cache_size,
                 "Memory for cached blocks, all files together, in bytes")
      ->transform(as_size)
      ->default_str(HumanSize(options.read.cache_size));
  app.add_option("--cache-dir", options.disk_cache.directory,
                 "Keep fetched blocks in this directory too (created if missing), so that a "
                 "remount, another mount or `rangefs warm` before reads them without a request; "
                 "several mounts may share it. Default: no disk cache")
      ->type_name("DIR");
  AddDiskCacheBoundOptions(app, options.disk_cache.max_bytes, targets.disk_min_free);
  app.add_option("--readahead-max", options.read.readahead.max_window,
                 "Largest readahead window per stream, in bytes (at most a quarter of the cache)")
      ->transform(as_size)
      ->default_str(HumanSize(options.read.readahead.max_window));
  app.add_flag("--open-prefetch,!--no-open-prefetch", options.read.open_prefetch,
               "Fetch a file's first 64 KiB and last 256 KiB when it is first opened (where "
               "archive indexes, media headers and database headers live)")
      ->capture_default_str();
  app.add_option("--max-ranges", options.read.max_ranges,
                 "Most ranges asked for in one request (Range: bytes=a-b,c-d,...) when a read or "
                 "readahead needs several pieces at once; 1 asks for each on its own")
      ->check(CLI::Range(1, 200))
      ->capture_default_str();
  app.add_option("--max-full-fetch", options.max_full_fetch,
                 "Largest file downloaded whole (into a temporary file in $TMPDIR) when its "
                 "server ignores Range requests; reads of larger ones fail with EIO")
      ->transform(as_size)
      ->default_str(HumanSize(options.max_full_fetch));
  app.add_option("--connections", options.read.connections,
                 "Parallel readahead requests, all files together")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  // Listings come from servers rangefs does not control: bounded, so that a page that never
  // ends or has a million links costs an EIO on that directory, not the memory of the host.
  app.add_option("--max-listing-size", options.max_listing_size,
                 "Largest directory listing page read, in bytes (a 100,000-entry nginx JSON or "
                 "HTML listing is 10-15 MB); a larger one fails that directory with EIO")
      ->transform(as_size)
      ->check(CLI::Range(uint64_t{1}, uint64_t{4} << 30))
      ->default_str(HumanSize(options.max_listing_size));
  app.add_option("--max-dir-entries", options.max_dir_entries,
                 "Most entries of one directory; a listing with more fails that directory with "
                 "EIO")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--metrics", targets.metrics_address,
                 "Serve metrics in the Prometheus text format at http://ADDR/metrics, ADDR a "
                 "loopback address and port (127.0.0.1:9100; port 0 picks a free one and logs "
                 "it), or on the unix socket unix:/PATH. Default: off")
      ->type_name("ADDR");

  // Security. Credentials (headers, netrc, the URL's user:password) go only to the origin
  // (scheme, host, port) of the URL given, not to where a redirect leads, and never into logs.
  AddSecurityOptions(app, {.header_lines = targets.header_lines,
                           .header_files = targets.header_files,
                           .netrc_file = options.netrc_file,
                           .location_trusted = options.location_trusted,
                           .allow_insecure_redirect = options.allow_insecure_redirect,
                           .ca_file = options.ca_file,
                           .insecure = options.insecure,
                           .proxy = options.proxy});
}

// The long options of `app`: what `-o key=value` may name.
std::vector<LongOption> LongOptionsOf(const CLI::App& app) {
  std::vector<LongOption> long_options;
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) {
      long_options.push_back({name, option->get_items_expected_max() > 0});
    }
  }
  return long_options;
}

// The parser with every option defined, writing into `options` and `targets` (CLI::App cannot
// be moved, hence the pointer).
std::unique_ptr<CLI::App> MakeParser(Options& options, ParseTargets& targets) {
  auto app = std::make_unique<CLI::App>(kAppDescription, "rangefs");
  DefineOptions(*app, options, targets);
  return app;
}

}  // namespace

std::vector<LongOption> CommandLineLongOptions() {
  Options options;
  ParseTargets targets;
  return LongOptionsOf(*MakeParser(options, targets));
}

std::string CommandLineHelp() {
  Options options;
  ParseTargets targets;
  return MakeParser(options, targets)->help();
}

CommandLine ParseCommandLine(int argc, char** argv) {
  Options options;
  ParseTargets targets;
  const std::unique_ptr<CLI::App> parser = MakeParser(options, targets);
  CLI::App& app = *parser;
  // mount(8) puts an fstab line's options first and the command line's after them, so that
  // `mount /mnt/x -o cache_size=2G` overrides the line: the last value of an option wins.
  for (CLI::Option* option : app.get_options()) {
    if (!option->get_positional() && option->get_items_expected_max() == 1) {
      option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }

  const std::vector<std::string> given(argv + std::min(argc, 1), argv + argc);
  Result<std::vector<std::string>> translated = TranslateMountOptions(given, LongOptionsOf(app));
  if (!translated.ok()) {
    std::cerr << "rangefs: " << translated.status().message() << "\n";
    return {std::nullopt, kUsageExitCode};
  }
  std::string program = argc > 0 ? argv[0] : "rangefs";
  std::vector<char*> translated_argv = {program.data()};
  for (std::string& arg : *translated) translated_argv.push_back(arg.data());

  std::vector<std::string>& positionals = targets.positionals;
  try {
    app.parse(static_cast<int>(translated_argv.size()), translated_argv.data());
  } catch (const CLI::CallForHelp& e) {
    return {std::nullopt, app.exit(e)};
  } catch (const CLI::CallForVersion& e) {
    return {std::nullopt, app.exit(e)};
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return {std::nullopt, kUsageExitCode};
  }
  const bool has_url_file = app.get_option("--url-file")->count() > 0;
  if (has_url_file && options.url_file.empty()) {
    std::cerr << "rangefs: --url-file (-o url_file=) needs a FILE\n";
    return {std::nullopt, kUsageExitCode};
  }
  if (positionals.size() < (has_url_file ? 1u : 2u)) {
    std::cerr << "rangefs: need at least one URL (or --url-file) and a MOUNTPOINT (see rangefs "
                 "--help)\n";
    return {std::nullopt, kUsageExitCode};
  }
  if (!options.name.empty() && positionals.size() != 2) {
    std::cerr << "rangefs: --name (-o name=) names the file of a single URL; with several, "
                 "write NAME=URL\n";
    return {std::nullopt, kUsageExitCode};
  }
  if (options.read.cache_size < 4 * options.read.block_size) {
    std::cerr << "rangefs: --cache-size must hold at least four blocks (--block-size)\n";
    return {std::nullopt, kUsageExitCode};
  }
  if (!CollectHeaders(targets.header_lines, targets.header_files, options.headers) ||
      !CheckReadable("--cacert", options.ca_file) ||
      !CheckReadable("--netrc-file", options.netrc_file)) {
    return {std::nullopt, kUsageExitCode};
  }
  if (!targets.metrics_address.empty()) {
    Result<MetricsAddress> address = ParseMetricsAddress(targets.metrics_address);
    if (!address.ok()) {
      std::cerr << "rangefs: --metrics " << address.status().message() << "\n";
      return {std::nullopt, kUsageExitCode};
    }
    options.metrics = std::move(address).value();
  }
  if (app.get_option("--dir-ttl")->count() > 0) options.dir_ttl_seconds = targets.dir_ttl_seconds;
  if (Status min_free = ParseDiskMinFree(targets.disk_min_free, options.disk_cache);
      !min_free.ok()) {
    std::cerr << "rangefs: --disk-cache-min-free " << min_free.message() << "\n";
    return {std::nullopt, kUsageExitCode};
  }
  if (!options.disk_cache.directory.empty()) {
    std::error_code error;
    const std::filesystem::path absolute =
        std::filesystem::absolute(options.disk_cache.directory, error);
    if (!error) options.disk_cache.directory = absolute.lexically_normal().string();
  }
  if (has_url_file) {
    // The daemon runs in "/": a relative path must mean what it meant where rangefs started.
    std::error_code error;
    const std::filesystem::path absolute = std::filesystem::absolute(options.url_file, error);
    if (!error) options.url_file = absolute.string();
  }
  options.mountpoint = positionals.back();
  positionals.pop_back();
  options.operands = std::move(positionals);
  Result<std::vector<MountSpec>> entries = EntriesOf({.operands = options.operands,
                                                      .name = options.name,
                                                      .mirror_urls = targets.mirror_urls,
                                                      .url_file = options.url_file});
  if (!entries.ok()) {
    std::cerr << "rangefs: " << entries.status().message() << "\n";
    return {std::nullopt, kUsageExitCode};
  }
  options.mirrors = MirrorMapFrom(*entries);
  options.entries = std::move(entries).value();
  if (options.debug) options.foreground = true;
  return {std::move(options), 0};
}

Status ParseDiskMinFree(std::string_view text, DiskCacheOptions& options) {
  const auto invalid = [text] {
    return Status(ErrorCode::kInvalidArgument,
                  "'" + std::string(text) + "': expected a size (2G) or a percentage (5%)");
  };
  if (!text.empty() && text.back() == '%') {
    const std::string number(text.substr(0, text.size() - 1));
    char* end = nullptr;
    errno = 0;
    const double percent = std::strtod(number.c_str(), &end);
    if (number.empty() || errno != 0 || end != number.c_str() + number.size() ||
        !(percent >= 0 && percent < 100)) {
      return invalid();
    }
    options.min_free_bytes = 0;
    options.min_free_percent = percent;
    return Status::Ok();
  }
  std::string value(text);
  uint64_t bytes = 0;
  try {
    const CLI::AsSizeValue as_size(false);
    if (!as_size(value).empty() || !CLI::detail::lexical_cast(value, bytes)) return invalid();
  } catch (const std::exception&) {
    return invalid();
  }
  options.min_free_bytes = bytes;
  options.min_free_percent = 0;
  return Status::Ok();
}

}  // namespace rangefs
