// FileReader: the read path of one open file handle. It holds the version of the file pinned
// at open, serves reads from the block cache, loads missing blocks (adjacent ones with one
// request, blocks others are loading by waiting for them, after asking that such a load start
// now if it is still queued behind readahead), and feeds the file's readahead.
// Once the remote has replaced its version, it serves what is still cached and fails the rest
// with kRemoteChanged: a handle never sees bytes of two versions.
// A read waits at most ReadWaitLimits::timeout, and a block whose load just failed (or that a
// read just gave up waiting for) fails the handle's reads of it at once for a moment, so the
// kernel's immediate retry of a failed read does not wait a second time.
//
// Thread-safety: Read() may be called concurrently (the kernel issues parallel reads on one
// handle). Everything the reader refers to must outlive it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <vector>

#include "rangefs/block_fetcher.h"
#include "rangefs/byte_range.h"
#include "rangefs/file_version.h"
#include "rangefs/metrics.h"
#include "rangefs/prefetcher.h"
#include "rangefs/read_options.h"
#include "rangefs/readahead_policy.h"
#include "rangefs/status.h"

namespace rangefs {

// Readahead state of one file, shared by all of its handles: a file read through two handles
// (or by two processes) is still one set of streams.
class SharedReadahead {
 public:
  explicit SharedReadahead(const ReadaheadConfig& config) : policy_(config) {}
  std::optional<Readahead> OnRead(uint64_t offset, uint64_t length, uint64_t file_size) {
    std::lock_guard lock(mu_);
    return policy_.OnRead(offset, length, file_size);
  }

 private:
  std::mutex mu_;
  ReadaheadPolicy policy_;  // Guarded by mu_
};

// The bytes of one read: slices of cached blocks, which stay alive as long as this does.
class ReadBuffer {
 public:
  size_t size() const { return size_; }
  const std::vector<std::span<const std::byte>>& slices() const { return slices_; }
  // REQUIRES: out.size() >= size().
  void CopyTo(std::span<std::byte> out) const;
  void Append(BlockPtr block, std::span<const std::byte> slice);

 private:
  std::vector<BlockPtr> pins_;
  std::vector<std::span<const std::byte>> slices_;
  size_t size_ = 0;
};

class FileReader {
 public:
  // `stop`: when it is requested, reads that wait for the network give up (shutdown).
  // `metrics`, when given, counts the handle while it exists, its reads and its readahead.
  FileReader(BlockFetcher& fetcher, Prefetcher& prefetcher, SharedReadahead& readahead,
             VersionRegistry& versions, FileVersionPtr version, std::stop_token stop = {},
             Metrics* metrics = nullptr, const ReadWaitLimits& limits = {})
      : fetcher_(fetcher),
        prefetcher_(prefetcher),
        readahead_(readahead),
        versions_(versions),
        version_(std::move(version)),
        stop_(std::move(stop)),
        metrics_(metrics),
        limits_(limits) {
    if (metrics_) metrics_->HandleOpened();
  }
  ~FileReader() {
    if (metrics_) metrics_->HandleClosed();
  }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  // Reads up to `size` bytes at `offset`: fewer only at end of file, none (and no request) at
  // or past it.
  Result<ReadBuffer> Read(uint64_t offset, uint64_t size);

  const FileVersion& version() const { return *version_; }

 private:
  // `may_ask_again`: a load that failed for looking like another version, which the check
  // that followed found to be still current (a false alarm), is asked for once more.
  Result<ReadBuffer> ReadBlocks(uint64_t offset, uint64_t size,
                                std::chrono::steady_clock::time_point started, bool may_ask_again);

  // A read within block `index` while that block is neither cached nor loading, served from
  // the block store's copy of only the chunks it covers, verified: a database's 4 KiB page
  // costs one 16 KiB chunk from disk, not a whole block. The block is not brought into memory:
  // the kernel's page cache keeps what was read, and readahead brings whole blocks for
  // streams. Nothing when the store lacks the block (the network path then serves it).
  std::optional<ReadBuffer> ReadFromStore(const ByteRange& range, uint64_t index);

  // Tells the file's readahead of this read, and prefetches what it asks for.
  void FeedReadahead(uint64_t offset, uint64_t size);

  // Asks that the loads of `blocks` (from block `first_index` on) this read waits for but did
  // not start itself begin now, if they still wait for a connection.
  void ExpediteOthersLoads(const std::vector<BlockCache::Acquired>& blocks, uint64_t first_index);

  // The failure to answer at once for block `index`, if its load failed (or a read gave up on
  // it) within ReadWaitLimits::failure_memory.
  std::optional<Status> RecentFailureOf(uint64_t index, std::chrono::steady_clock::time_point now);
  void RememberFailure(uint64_t index, const Status& status);
  // Waits for the load of block `index`, until `deadline` or a stop. A failure is remembered
  // (RememberFailure) unless it was a false alarm of another version.
  Result<BlockPtr> AwaitLoad(BlockCache::Acquired& acquired, uint64_t index,
                             std::chrono::steady_clock::time_point deadline);

  struct RecentFailure {
    uint64_t index = 0;
    Status status;
    std::chrono::steady_clock::time_point when;
  };

  BlockFetcher& fetcher_;
  Prefetcher& prefetcher_;
  SharedReadahead& readahead_;
  VersionRegistry& versions_;
  const FileVersionPtr version_;
  const std::stop_token stop_;
  Metrics* const metrics_;
  const ReadWaitLimits limits_;

  std::mutex mu_;
  std::optional<RecentFailure> recent_failure_;  // Guarded by mu_
};

}  // namespace rangefs
