#include "options.h"

#include <curl/curl.h>
#include <fuse3/fuse_lowlevel.h>

#include <CLI/CLI.hpp>
#include <iostream>

namespace rangefs {
namespace {

constexpr int kUsageExitCode = 2;

std::string VersionText() {
  std::string text = "rangefs " RANGEFS_VERSION "\n";
  text += std::string("libfuse ") + fuse_pkgversion() + "\n";
  text += curl_version();
  return text;
}

// "256M" for 268435456: defaults shown the way they are typed.
std::string HumanSize(uint64_t bytes) {
  constexpr const char* kSuffixes[] = {"", "K", "M", "G", "T"};
  size_t suffix = 0;
  while (bytes >= 1024 && bytes % 1024 == 0 && suffix + 1 < std::size(kSuffixes)) {
    bytes /= 1024;
    ++suffix;
  }
  return std::to_string(bytes) + kSuffixes[suffix];
}

}  // namespace

CommandLine ParseCommandLine(int argc, char** argv) {
  Options options;
  CLI::App app("Mount remote HTTP(S) files as local read-only files, read with Range requests.",
               "rangefs");
  app.footer(
      "Each URL becomes one read-only file in MOUNTPOINT, named after the last segment of its\n"
      "path (percent-decoded) or NAME. rangefs probes every URL before mounting and exits\n"
      "non-zero, mounting nothing, if one cannot be read. Unmount with: fusermount3 -u "
      "MOUNTPOINT");
  app.set_version_flag("--version", VersionText(), "Print versions of rangefs and its libraries");

  std::vector<std::string> positionals;
  app.add_option("operands", positionals, "URL|NAME=URL... MOUNTPOINT")->required()->expected(-2);
  app.add_flag("-f,--foreground", options.foreground,
               "Stay in the foreground instead of daemonizing once mounted");
  app.add_flag("-d,--debug", options.debug,
               "Foreground with debug logging (every request) and FUSE debug output");
  app.add_option("-o", options.fuse_options,
                 "FUSE mount options, comma-separated (allow_other, ...); repeatable")
      ->type_name("OPT[,OPT...]")
      ->allow_extra_args(false);
  app.add_option("--timeout", options.timeout_seconds,
                 "Seconds one HTTP request may take before the read fails with EIO")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--connect-timeout", options.connect_timeout_seconds,
                 "Seconds to establish a connection (TCP and TLS)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  app.add_option("--revalidate", options.revalidate_seconds,
                 "Seconds a file's version stays trusted: after that, looking the file up or "
                 "opening it first asks the server (HEAD) whether it changed; also how long "
                 "the kernel caches names and sizes. 0: ask on every open. Without ETag or "
                 "Last-Modified from the server, only changes of size are noticed")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

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
  app.add_option("--readahead-max", options.read.readahead.max_window,
                 "Largest readahead window per stream, in bytes (at most a quarter of the cache)")
      ->transform(as_size)
      ->default_str(HumanSize(options.read.readahead.max_window));
  app.add_option("--connections", options.read.connections,
                 "Parallel readahead requests, all files together")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return {std::nullopt, app.exit(e)};
  } catch (const CLI::CallForVersion& e) {
    return {std::nullopt, app.exit(e)};
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return {std::nullopt, kUsageExitCode};
  }
  if (positionals.size() < 2) {
    std::cerr << "rangefs: need at least one URL and a MOUNTPOINT (see rangefs --help)\n";
    return {std::nullopt, kUsageExitCode};
  }
  if (options.read.cache_size < 4 * options.read.block_size) {
    std::cerr << "rangefs: --cache-size must hold at least four blocks (--block-size)\n";
    return {std::nullopt, kUsageExitCode};
  }
  options.mountpoint = positionals.back();
  positionals.pop_back();
  options.operands = std::move(positionals);
  if (options.debug) options.foreground = true;
  return {std::move(options), 0};
}

}  // namespace rangefs
