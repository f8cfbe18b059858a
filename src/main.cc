// rangefs: mount remote HTTP(S) files as local read-only files.
//
// main() builds the object graph in dependency order (options, logging, libcurl, the HTTP range
// source, the Filesystem, the FUSE session) and tears it down in reverse.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli/logging.h"
#include "cli/mount_entries.h"
#include "cli/mount_spec.h"
#include "cli/option_values.h"
#include "cli/options.h"
#include "cli/read_sources.h"
#include "cli/url_file.h"
#include "cli/warm.h"
#include "fuse/fuse_adapter.h"
#include "rangefs/disk_cache.h"
#include "rangefs/filesystem.h"
#include "rangefs/http_directory_lister.h"
#include "rangefs/http_range_source.h"
#include "rangefs/metrics.h"
#include "rangefs/metrics_collection.h"
#include "rangefs/metrics_server.h"
#include "rangefs/redact.h"
#include "rangefs/retrying_range_source.h"
#include "rangefs/scheduler.h"
#include "rangefs/whole_file_fallback.h"

namespace rangefs {
namespace {

constexpr int kFailureExitCode = 1;
constexpr int kUsageExitCode = 2;
// A directory whose refresh failed keeps its last good listing this long before trying again.
constexpr std::chrono::milliseconds kRetryFailedListingAfter{10000};
// Probes and listings ahead (ls -l, find) run on this many threads per --connections: they are
// small requests, mostly waiting a round trip, and a walk of a wide tree wants many at once.
constexpr size_t kAheadWorkersPerConnection = 8;
// However many connections: threads, and requests at once to one server, stay within reason.
constexpr size_t kMostAheadWorkers = 256;

// How much longer than --timeout a read may wait for its bytes (README: "every read returns
// within --timeout plus 2 s").
constexpr std::chrono::milliseconds kReadWaitSlack{2'000};

// An absolute, existing directory: the daemon runs with "/" as its working directory.
Result<std::string> ResolveMountpoint(const std::string& path) {
  std::error_code error;
  const std::filesystem::path resolved = std::filesystem::canonical(path, error);
  if (error) return Status(ErrorCode::kInvalidArgument, path + ": " + error.message());
  if (!std::filesystem::is_directory(resolved, error)) {
    return Status(ErrorCode::kInvalidArgument, path + ": not a directory");
  }
  return resolved.string();
}

// What /proc/mounts shows as the mount's source: the operand, as an fstab line or mount(8)
// gives it, so that `mount -a` sees the line is mounted already. Credentials are redacted
// (/proc/mounts is world-readable), and then `mount -a` cannot match the line.
std::string MountSource(const std::vector<std::string>& operands) {
  return operands.size() == 1 ? RedactUrl(operands.front()) : "rangefs";
}

const char* const kInsecureWarning =
    "--insecure: TLS certificates and host names are not verified; anyone on the network path "
    "can read and change what is read, and see the credentials sent";

// Opens the disk cache in `disk_cache`, or logs why the mount goes on without one.
void OpenDiskCache(const DiskCacheOptions& options, std::unique_ptr<DiskCache>& disk_cache) {
  Result<std::unique_ptr<DiskCache>> opened = DiskCache::Open(options);
  if (!opened.ok()) {
    spdlog::warn("--cache-dir {}: {}; mounting without a disk cache", options.directory,
                 opened.status().message());
    return;
  }
  disk_cache = std::move(opened).value();
  if (disk_cache->read_only()) {
    spdlog::info("disk cache in {} is read-only: serving its blocks, keeping no new ones",
                 options.directory);
    return;
  }
  spdlog::info("disk cache in {} (at most {} MiB)", options.directory, options.max_bytes >> 20);
}

int Run(int argc, char** argv) {
  if (argc > 1 && argv[1] == std::string_view("warm")) return RunWarm(argc - 1, argv + 1);
  CommandLine command_line = ParseCommandLine(argc, argv);
  if (!command_line.options) return command_line.exit_code;
  const Options& options = *command_line.options;
  InitLogging(options.debug);

  // The entries (the parser read the operands and the URL file, and checked them).
  std::vector<MountSpec> specs = options.entries;
  Result<std::string> mountpoint = ResolveMountpoint(options.mountpoint);
  if (!mountpoint.ok()) {
    std::cerr << "rangefs: mountpoint " << mountpoint.status().message() << "\n";
    return kFailureExitCode;
  }
  Result<MountLog> mount_log = MountLog::Prepare(options.log_file, options.foreground);
  if (!mount_log.ok()) {
    std::cerr << "rangefs: " << mount_log.status().message() << "\n";
    return kUsageExitCode;
  }

  const CurlGlobal curl_global;
  if (!curl_global.ok()) {
    std::cerr << "rangefs: libcurl failed to initialize\n";
    return kFailureExitCode;
  }
  // Requested once the session ends: probes and listings blocked on a server give up then.
  std::stop_source stopping;
  HttpOptions http_options = HttpOptionsFrom(options, options.read.connections);
  http_options.stop = stopping.get_token();
  if (options.insecure) spdlog::warn("{}", kInsecureWarning);
  if (!options.proxy.empty())
    spdlog::info("requests go through the proxy {}", RedactUrl(options.proxy));
  http_options.max_ranges = options.read.max_ranges;
  // Checked before mounting, so that a cache directory that cannot be used says so where the
  // user looks; opened again in the daemon, since the cache's writer thread and SQLite
  // connection must not cross the fork.
  std::string disk_cache_refusal;
  bool disk_cache_read_only = false;
  if (!options.disk_cache.directory.empty()) {
    if (Result<std::unique_ptr<DiskCache>> checked = DiskCache::Open(options.disk_cache);
        !checked.ok()) {
      disk_cache_refusal = fmt::format("--cache-dir {}: {}; mounting without a disk cache",
                                       options.disk_cache.directory, checked.status().message());
      spdlog::warn("{}", disk_cache_refusal);
    } else {
      disk_cache_read_only = (*checked)->read_only();
    }
  }

  const RetryConfig retry{.max_retries = options.retries,
                          .deadline = Milliseconds(options.timeout_seconds)};
  // Per-URL traffic is counted for the URLs the command line names (a URL file's may be
  // 100,000 lines: their requests count in the totals only).
  std::vector<std::string> urls;
  for (const MountSpec& spec : specs) {
    if (spec.probe_at_mount) urls.push_back(spec.url);
  }
  // Before the sources: they count into it from their first request (the probes).
  Metrics metrics(urls);
  // Opened in the daemon (on_mounted below); declared before the sources, so that it outlives
  // every transfer that offers it a block.
  std::unique_ptr<DiskCache> disk_cache;
  // What routes were found to do is kept beside a disk cache that can be used, never in a
  // directory rangefs must leave alone (another format, read-only).
  const bool keep_routes = disk_cache_refusal.empty() && !disk_cache_read_only;
  ReadSources sources(http_options, retry, options.max_full_fetch, metrics,
                      {.mirrors = options.mirrors,
                       .spread = options.spread,
                       .route_directory = keep_routes ? options.disk_cache.directory : ""});

  // Bound before anything else may fail, so that a taken port fails the mount at once; served
  // only once the daemon runs (threads do not survive its fork).
  std::unique_ptr<MetricsServer> metrics_server;
  if (options.metrics) {
    Result<std::unique_ptr<MetricsServer>> listening = MetricsServer::Listen(*options.metrics);
    if (!listening.ok()) {
      std::cerr << "rangefs: --metrics " << listening.status().message() << "\n";
      return kFailureExitCode;
    }
    metrics_server = std::move(listening).value();
    spdlog::info("metrics at {}", metrics_server->where());
  }

  const std::unique_ptr<DirectoryLister> lister =
      NewHttpDirectoryLister(http_options,
                             {.max_page_bytes = options.max_listing_size,
                              .max_entries = static_cast<size_t>(options.max_dir_entries)},
                             &metrics);
  std::optional<std::vector<PreparedEntry>> entries =
      PrepareEntries(sources.top(), *lister, std::move(specs), options.max_full_fetch);
  if (!entries) return kFailureExitCode;

  const std::chrono::milliseconds dir_ttl =
      Milliseconds(options.dir_ttl_seconds.value_or(options.revalidate_seconds));
  const DirectoryOptions directories{
      .lister = lister.get(),
      .ttl = dir_ttl,
      .retry_failed_after = std::min(dir_ttl, kRetryFailedListingAfter),
      .ahead_workers =
          std::min(kAheadWorkersPerConnection * options.read.connections, kMostAheadWorkers)};
  ReadOptions read_options = options.read;
  // Fetches end by --timeout on their own; the read's own bound is a backstop just after it.
  read_options.wait.timeout = Milliseconds(options.timeout_seconds) + kReadWaitSlack;
  Filesystem filesystem(sources.top(), sources.scheduler(), {}, std::time(nullptr), read_options,
                        Milliseconds(options.revalidate_seconds), &metrics, directories);
  filesystem.SetAddressReport(
      [&sources](const std::string& url) { return sources.mirrored().DescribeAddresses(url); });
  if (Status added = AddEntries(filesystem, std::move(*entries)); !added.ok()) {
    std::cerr << "rangefs: " << added.message() << "\n";
    return kUsageExitCode;
  }
  const auto render_metrics = [&metrics, &filesystem, &options, &disk_cache] {
    return MetricsText(metrics, filesystem.cache_stats(), options.read.cache_size,
                       disk_cache ? std::optional(disk_cache->stats()) : std::nullopt);
  };
  FuseConfig fuse_config{.mountpoint = *mountpoint,
                         .source = MountSource(options.operands),
                         .mount_options = options.fuse_options,
                         .foreground = options.foreground,
                         .fuse_debug = options.debug,
                         .attribute_timeout_seconds = options.revalidate_seconds};
  const int exit_code = ServeFuse(
      filesystem, fuse_config,
      [&options, &mount_log, &metrics_server, &render_metrics, &disk_cache, &filesystem,
       &disk_cache_refusal] {
        mount_log->Activate();
        // stderr had it; now the log too.
        if (options.insecure && mount_log->target() != LogTarget::kStderr) {
          spdlog::warn("{}", kInsecureWarning);
        }
        if (!disk_cache_refusal.empty()) {
          if (mount_log->target() != LogTarget::kStderr) spdlog::warn("{}", disk_cache_refusal);
        } else if (!options.disk_cache.directory.empty()) {
          OpenDiskCache(options.disk_cache, disk_cache);
          if (disk_cache) filesystem.SetDiskCache(disk_cache.get());
        }
        if (metrics_server) {
          metrics_server->Start(render_metrics);
          // stderr had it; now the log too.
          if (mount_log->target() != LogTarget::kStderr) {
            spdlog::info("metrics at {}", metrics_server->where());
          }
        }
      },
      [&stopping] { stopping.request_stop(); });
  // It reads the filesystem's counters: stop it while the filesystem exists.
  if (metrics_server) metrics_server->Stop();
  // Probes and listings ahead use the sources and the lister: stop them first.
  filesystem.StopBackgroundWork();
  // Unfinished transfers report to the cache: stop them while it still exists.
  sources.Shutdown();
  return exit_code;
}

}  // namespace
}  // namespace rangefs

int main(int argc, char** argv) { return rangefs::Run(argc, argv); }
