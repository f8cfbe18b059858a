#include "cli/warm.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "cli/logging.h"
#include "cli/option_values.h"
#include "cli/progress_output.h"
#include "cli/progress_text.h"
#include "cli/read_sources.h"
#include "cli/signal_watch.h"
#include "cli/warm_options.h"
#include "cli/warm_plan.h"
#include "cli/warm_request.h"
#include "rangefs/block.h"
#include "rangefs/disk_cache.h"
#include "rangefs/file_key.h"
#include "rangefs/metrics.h"
#include "rangefs/redact.h"

namespace rangefs {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kFailureExitCode = 1;

// One file being warmed: its requests, taken in order by the workers, and how far they got.
class FileWarm {
 public:
  FileWarm(RangeSource& source, DiskCache& cache, const RemoteFileInfo& info, const FileKey& key,
           std::vector<WarmRequest> requests, std::stop_token stop)
      : source_(source),
        cache_(cache),
        info_(info),
        key_(key),
        requests_(std::move(requests)),
        stop_callback_(stop, [this] { stop_.request_stop(); }) {}

  // Runs `workers` threads until every request is done, one failed, or a stop; calls
  // `progress` on the calling thread every `interval` meanwhile. The first failure, if any.
  Status Run(size_t workers, std::chrono::milliseconds interval,
             const std::function<void()>& progress) {
    workers = std::max<size_t>(1, std::min(workers, requests_.size()));
    {
      std::lock_guard lock(mu_);
      running_ = workers;
    }
    {
      std::vector<std::jthread> threads;
      for (size_t i = 0; i < workers; ++i) threads.emplace_back([this] { Work(); });
      progress();  // at once: which file, and how much of it the cache has already
      std::unique_lock lock(mu_);
      while (!finished_.wait_for(lock, interval, [&] { return running_ == 0; })) {
        lock.unlock();
        progress();
        lock.lock();
      }
    }  // joined
    std::lock_guard lock(mu_);
    return failure_;
  }

  uint64_t stored_bytes() const { return stored_bytes_; }

 private:
  void Work() {
    const std::stop_token stop = stop_.get_token();
    while (!stop.stop_requested()) {
      const size_t next = next_.fetch_add(1);
      if (next >= requests_.size()) break;
      const Status status = Warm(requests_[next], stop);
      if (!status.ok()) {
        Fail(status);
        break;
      }
    }
    {
      std::lock_guard lock(mu_);
      --running_;
    }
    finished_.notify_all();
  }

  // Fetches the request's blocks and stores them; ok also when a stop cut it short.
  Status Warm(const WarmRequest& request, std::stop_token stop) {
    const uint64_t block_size = key_.block_size();
    std::vector<std::shared_ptr<Block>> blocks;
    for (uint64_t i = 0; i < request.block_count; ++i) {
      blocks.push_back(
          std::make_shared<Block>(BlockLengthOf(info_.size, block_size, request.first_block + i)));
    }
    auto state = std::make_shared<RequestState>(std::move(blocks));
    source_.StartFetch(info_, RangeOfRequest(request, block_size, info_.size),
                       FetchPriority::kDemand, std::make_shared<RequestSink>(state));
    const std::optional<Status> fetched = state->Wait(stop);
    if (!fetched) return Status::Ok();  // stopping: the source ends the transfer later
    if (!fetched->ok()) return *fetched;
    for (size_t i = 0; i < state->blocks().size(); ++i) {
      const Block& block = *state->blocks()[i];
      if (Status stored = cache_.Store(key_, request.first_block + i, block); !stored.ok()) {
        return Status(stored.code(), "the disk cache: " + stored.message());
      }
      stored_bytes_ += block.size();
    }
    return Status::Ok();
  }

  void Fail(const Status& status) {
    {
      std::lock_guard lock(mu_);
      if (failure_.ok()) failure_ = status;
    }
    stop_.request_stop();  // the other workers stop too: the file failed
  }

  RangeSource& source_;
  DiskCache& cache_;
  const RemoteFileInfo& info_;
  const FileKey& key_;
  const std::vector<WarmRequest> requests_;
  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> stored_bytes_{0};
  std::stop_source stop_;  // this file's: a failure or the whole warm's stop
  std::stop_callback<std::function<void()>> stop_callback_;

  std::mutex mu_;
  std::condition_variable finished_;
  size_t running_ = 0;  // Guarded by mu_: workers not yet returned
  Status failure_;      // Guarded by mu_
};

// The name progress lines show: the entry's name (its last URL segment, or NAME=).
std::string DisplayName(const MountSpec& spec) { return spec.name.empty() ? spec.url : spec.name; }

struct WarmedFile {
  FileKey key;
  uint64_t blocks = 0;
  std::string url;  // redacted
};

struct Totals {
  size_t files = 0;
  size_t failed = 0;
  uint64_t fetched = 0;
  uint64_t already = 0;
};

class Warmer {
 public:
  Warmer(const WarmOptions& options, RangeSource& source, DiskCache& cache, ProgressOutput& out,
         std::stop_token stop)
      : options_(options), source_(source), cache_(cache), out_(out), stop_(stop) {}

  void WarmAll() {
    for (const MountSpec& spec : options_.files) {
      if (stop_.stop_requested()) return;
      ++totals_.files;
      if (Status warmed = WarmOne(spec); !warmed.ok()) {
        if (stop_.stop_requested()) return;  // its failure is the stop's
        ++totals_.failed;
        // Messages may quote the URL (a probe's do): with its credentials hidden too.
        out_.Line("rangefs warm: " + RedactUrl(spec.url) + ": " +
                  RedactUrlsIn(warmed.message(), {&spec.url, 1}));
      }
    }
    if (stop_.stop_requested()) return;
    // A file warmed early may have been evicted for a later one (a cache smaller than them).
    for (const WarmedFile& file : warmed_) {
      const uint64_t missing = MissingBlocks(file.key, file.blocks);
      if (missing == 0) continue;
      ++totals_.failed;
      out_.Line("rangefs warm: " + file.url + ": " + std::to_string(missing) + " of " +
                std::to_string(file.blocks) +
                " blocks were evicted again by later files: the cache (--disk-cache-size, "
                "--disk-cache-min-free) is too small for all of them");
    }
  }

  const Totals& totals() const { return totals_; }

 private:
  uint64_t MissingBlocks(const FileKey& key, uint64_t blocks) {
    uint64_t missing = 0;
    for (uint64_t i = 0; i < blocks; ++i)
      if (!cache_.Contains(key, i)) ++missing;
    return missing;
  }

  Status WarmOne(const MountSpec& spec) {
    if (spec.kind != SpecKind::kFile) {
      return Status(ErrorCode::kInvalidArgument, "a directory; rangefs warm takes file URLs");
    }
    Result<RemoteFileInfo> info = source_.Probe(spec.url);
    if (!info.ok()) return info.status();
    const FileKey key = FileKey::Of(*info, options_.block_size);
    if (key.validator().empty()) {
      return Status(ErrorCode::kInvalidArgument,
                    "the server sends neither ETag nor Last-Modified, so a cached copy could "
                    "not be told apart from a changed file: the disk cache never keeps such "
                    "files");
    }
    const std::string name = DisplayName(spec);
    const uint64_t blocks = BlockCountOf(info->size, options_.block_size);
    std::vector<bool> present(blocks);
    uint64_t already = 0;
    for (uint64_t i = 0; i < blocks; ++i) {
      present[i] = cache_.Contains(key, i);
      if (present[i]) already += BlockLengthOf(info->size, options_.block_size, i);
    }
    WarmProgress progress{.name = name, .done = already, .total = info->size};
    std::vector<WarmRequest> requests =
        PlanWarmRequests(present, options_.block_size, options_.max_request_bytes);
    if (!requests.empty()) {
      if (info->size > options_.cache.max_bytes) {
        out_.Line("rangefs warm: " + RedactUrl(spec.url) + " (" + FormatSize(info->size) +
                  ") is larger than --disk-cache-size (" + FormatSize(options_.cache.max_bytes) +
                  "): its first blocks will be evicted for its last");
      }
      FileWarm warm(source_, cache_, *info, key, std::move(requests), stop_);
      const Clock::time_point start = Clock::now();
      const auto update = [&] {
        progress.fetched = warm.stored_bytes();
        progress.done = already + progress.fetched;
        progress.elapsed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
      };
      const Status status = warm.Run(options_.connections, out_.interval(), [&] {
        update();
        out_.Update(progress);
      });
      update();
      totals_.fetched += progress.fetched;
      if (!status.ok()) return status;
      if (stop_.stop_requested()) return Status(ErrorCode::kInternal, "stopped");
    }
    // Flushed per file: a file reported cached is in the index, whatever comes next.
    cache_.Flush();
    if (const uint64_t missing = MissingBlocks(key, blocks); missing > 0) {
      return Status(ErrorCode::kInternal,
                    std::to_string(missing) + " of " + std::to_string(blocks) +
                        " blocks are not in the cache after warming (evicted: see "
                        "--disk-cache-size and --disk-cache-min-free)");
    }
    totals_.already += already;
    out_.Line(FileDoneLine(progress));
    warmed_.push_back({key, blocks, RedactUrl(spec.url)});
    return Status::Ok();
  }

  const WarmOptions& options_;
  RangeSource& source_;
  DiskCache& cache_;
  ProgressOutput& out_;
  const std::stop_token stop_;
  Totals totals_;
  std::vector<WarmedFile> warmed_;
};

std::string FilesText(size_t n) { return std::to_string(n) + (n == 1 ? " file" : " files"); }

std::string SummaryLine(const Totals& totals) {
  const size_t cached = totals.files - totals.failed;
  if (totals.failed == 0 && totals.fetched == 0) {
    return "warm: " + FilesText(cached) + ", all already cached; nothing fetched";
  }
  std::string line = "warm: " + FilesText(cached) + " cached (" + FormatSize(totals.fetched) +
                     " fetched, " + FormatSize(totals.already) + " already cached)";
  if (totals.failed > 0) line += ", " + FilesText(totals.failed) + " failed";
  return line;
}

}  // namespace

int RunWarm(int argc, char** argv) {
  WarmCommandLine command_line = ParseWarmCommandLine(argc, argv);
  if (!command_line.options) return command_line.exit_code;
  const WarmOptions& options = *command_line.options;

  // Before any thread: every thread started from here on has the signals blocked.
  std::stop_source stopping;
  SignalWatch signals(stopping);

  InitLogging(options.debug);
  // Retries and such are worth a line; the progress says the rest.
  if (!options.debug) spdlog::set_level(spdlog::level::warn);

  Result<std::unique_ptr<DiskCache>> cache = DiskCache::Open(options.cache);
  if (!cache.ok()) {
    std::cerr << "rangefs warm: --cache-dir " << options.cache.directory << ": "
              << cache.status().message() << "\n";
    return kFailureExitCode;
  }
  if ((*cache)->read_only()) {
    std::cerr << "rangefs warm: --cache-dir " << options.cache.directory
              << ": read-only: no block can be kept there\n";
    return kFailureExitCode;
  }
  const CurlGlobal curl_global;
  if (!curl_global.ok()) {
    std::cerr << "rangefs warm: libcurl failed to initialize\n";
    return kFailureExitCode;
  }
  HttpOptions http = HttpOptionsFrom(options, options.connections);
  http.stop = stopping.get_token();
  if (options.insecure) {
    spdlog::warn("--insecure: TLS certificates and host names are not verified");
  }
  const RetryConfig retry{.max_retries = options.retries,
                          .deadline = Milliseconds(options.timeout_seconds)};
  Metrics metrics;
  ReadSources sources(http, retry, options.max_full_fetch, metrics,
                      {.mirrors = options.mirrors,
                       .spread = options.spread,
                       .route_directory = options.cache.directory});

  ProgressOutput out(Milliseconds(options.progress_interval_seconds));
  Warmer warmer(options, sources.top(), **cache, out, stopping.get_token());
  warmer.WarmAll();
  // Every worker has returned; transfers a stop abandoned end here, their sinks dropped.
  sources.Shutdown();
  (*cache)->Flush();

  if (const int signal = signals.received(); signal != 0) {
    out.Line("warm: interrupted by " +
             std::string(signal == SIGINT    ? "SIGINT"
                         : signal == SIGTERM ? "SIGTERM"
                                             : "SIGHUP") +
             "; the blocks stored so far stay cached, and running the same command again "
             "fetches only the rest");
    return 128 + signal;
  }
  out.Line(SummaryLine(warmer.totals()));
  return warmer.totals().failed == 0 ? 0 : kFailureExitCode;
}

}  // namespace rangefs
