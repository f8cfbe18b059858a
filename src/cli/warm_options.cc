#include "cli/warm_options.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/command_entries.h"
#include "cli/option_values.h"
#include "cli/options.h"

namespace rangefs {
namespace {

constexpr int kUsageExitCode = 2;

// What the parser fills in besides WarmOptions, checked and moved in after parsing.
struct WarmParseTargets {
  std::vector<std::string> operands;
  std::string url_file;
  std::vector<std::string> mirror_urls;  // --mirror
  std::string min_free = "5%";
  std::vector<std::string> header_lines;
  std::vector<std::string> header_files;
};

void DefineWarmOptions(CLI::App& app, WarmOptions& options, WarmParseTargets& targets) {
  app.footer(
      "Fetches every block of each URL that the disk cache in DIR lacks and stores it there, so "
      "that a later mount with --cache-dir DIR reads these files without range requests. Blocks "
      "already in the cache are not fetched again: an interrupted warm resumes. Use the mount's "
      "--block-size: cached blocks are named by it.\n\n"
      "Progress goes to stderr: one line redrawn in place on a terminal, else a line every 5 s "
      "and at the end of each file.\n\n"
      "Exit status: 0 when every file is completely cached, 1 when one or more failed (one line "
      "each says why), 2 on usage errors, 130 (SIGINT) or 143 (SIGTERM) when interrupted: "
      "what was stored stays, and the next warm fetches the rest.");
  app.add_option("urls", targets.operands, "[NAME=]URL[|MIRROR]...")->expected(-1);
  app.add_option("--cache-dir", options.cache.directory,
                 "The disk cache's directory, as the mount's --cache-dir (created if missing)")
      ->type_name("DIR")
      ->required();
  app.add_option("--url-file", targets.url_file,
                 "Also warm the entries listed in FILE, in the format of the mount's --url-file "
                 "(URL or PATH=URL a line, URL1|URL2 for mirrors, # comments)")
      ->type_name("FILE");
  AddMirrorOptions(app, targets.mirror_urls, options.spread);
  app.add_flag("-d,--debug", options.debug, "Debug logging (every request) on stderr");
  app.add_option("--progress-interval", options.progress_interval_seconds,
                 "Seconds between progress lines when stderr is not a terminal (on a terminal, "
                 "one line is redrawn 4 times a second)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  const auto as_size = CLI::AsSizeValue(false);
  AddDiskCacheBoundOptions(app, options.cache.max_bytes, targets.min_free);
  app.add_option("--block-size", options.block_size,
                 "Unit of caching, in bytes: must be the mount's --block-size")
      ->transform(as_size)
      ->check(CLI::Range(uint64_t{4096}, uint64_t{64} << 20))
      ->default_str(HumanSize(options.block_size));
  app.add_option("--connections", options.connections, "Requests at once")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--timeout", options.timeout_seconds,
                 "Seconds a request may take, retries and their waits included")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  AddRequestOptions(app, {.connect_timeout_seconds = options.connect_timeout_seconds,
                          .retries = options.retries,
                          .stall_timeout_seconds = options.stall_timeout_seconds,
                          .min_rate = options.min_rate});
  app.add_option("--max-full-fetch", options.max_full_fetch,
                 "Largest file downloaded whole (into $TMPDIR) when its server ignores Range "
                 "requests; larger ones fail")
      ->transform(as_size)
      ->default_str(HumanSize(options.max_full_fetch));
  AddSecurityOptions(app, {.header_lines = targets.header_lines,
                           .header_files = targets.header_files,
                           .netrc_file = options.netrc_file,
                           .location_trusted = options.location_trusted,
                           .allow_insecure_redirect = options.allow_insecure_redirect,
                           .ca_file = options.ca_file,
                           .insecure = options.insecure,
                           .proxy = options.proxy});
}

WarmOptions Defaults() {
  // The mount's defaults: a warm without options fills the cache for a mount without options.
  const Options mount;
  WarmOptions options;
  options.block_size = mount.read.block_size;
  options.connections = mount.read.connections;
  options.max_request_bytes = mount.read.max_request_bytes;
  options.timeout_seconds = mount.timeout_seconds;
  options.connect_timeout_seconds = mount.connect_timeout_seconds;
  options.stall_timeout_seconds = mount.stall_timeout_seconds;
  options.min_rate = mount.min_rate;
  options.retries = mount.retries;
  options.max_full_fetch = mount.max_full_fetch;
  return options;
}

WarmCommandLine UsageError(const std::string& message) {
  std::cerr << "rangefs warm: " << message << "\n";
  return {std::nullopt, kUsageExitCode};
}

}  // namespace

WarmCommandLine ParseWarmCommandLine(int argc, const char* const* argv) {
  WarmOptions options = Defaults();
  WarmParseTargets targets;
  CLI::App app("Fill the disk cache with the blocks of remote files.", "rangefs warm");
  DefineWarmOptions(app, options, targets);
  for (CLI::Option* option : app.get_options()) {
    if (!option->get_positional() && option->get_items_expected_max() == 1) {
      option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return {std::nullopt, app.exit(e)};
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return {std::nullopt, kUsageExitCode};
  }
  if (targets.operands.empty() && targets.url_file.empty()) {
    return UsageError("need at least one URL (or --url-file) and --cache-dir DIR");
  }
  if (options.cache.directory.empty()) return UsageError("--cache-dir needs a DIR");
  if (Status min_free = ParseDiskMinFree(targets.min_free, options.cache); !min_free.ok()) {
    return UsageError("--disk-cache-min-free " + min_free.message());
  }
  if (!CollectHeaders(targets.header_lines, targets.header_files, options.headers) ||
      !CheckReadable("--cacert", options.ca_file) ||
      !CheckReadable("--netrc-file", options.netrc_file)) {
    return {std::nullopt, kUsageExitCode};
  }
  Result<std::vector<MountSpec>> files = EntriesOf({.operands = targets.operands,
                                                    .mirror_urls = targets.mirror_urls,
                                                    .url_file = targets.url_file});
  if (!files.ok()) return UsageError(files.status().message());
  options.mirrors = MirrorMapFrom(*files);
  options.files = std::move(files).value();
  return {std::move(options), 0};
}

}  // namespace rangefs
