#include "rangefs/disk_cache.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "disk/block_file.h"
#include "disk/block_writer.h"
#include "disk/cache_directory.h"
#include "disk/cache_files.h"
#include "disk/cache_index.h"
#include "disk/disk_cache_opener.h"
#include "rangefs/redact.h"

namespace rangefs {

using disk::BlockName;
using disk::PendingBlock;

namespace {

using Clock = Scheduler::Clock;

// The writer thread's nice value (Linux sets it per thread): below the readers, not idle.
constexpr int kWriterNice = 10;

class SteadyClock final : public Scheduler {
 public:
  Clock::time_point Now() const override { return Clock::now(); }
  void RunAfter(std::chrono::milliseconds, std::function<void()>) override {}
};

const Scheduler& DefaultClock() {
  static const SteadyClock clock;
  return clock;
}

}  // namespace

class DiskCache::Impl {
 public:
  Impl(DiskCacheOptions options, std::shared_ptr<disk::CacheFiles> files,
       std::unique_ptr<disk::CacheIndex> index, const DiskCacheTuning& tuning, uint64_t used,
       bool read_only)
      : options_(std::move(options)),
        tuning_(tuning),
        read_only_(read_only),
        clock_(tuning.clock != nullptr ? *tuning.clock : DefaultClock()),
        files_(std::move(files)),
        index_(std::move(index)),
        writer_(options_, *files_, *index_, counters_, clock_, tuning_.fault_pause,
                tuning_.free_space_interval) {
    counters_.used.store(used, std::memory_order_relaxed);
  }

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  BlockPtr Load(const FileKey& key, uint64_t index, size_t length) {
    return LoadRun(key, index, length, std::nullopt).bytes;
  }

  BlockStore::Part LoadPart(const FileKey& key, uint64_t index, size_t length, uint64_t from,
                            uint64_t to) {
    return LoadRun(key, index, length, disk::ChunksCovering(length, from, to));
  }

  // The whole block, or only the chunks of `run`, read and verified. A part that is not
  // served is not counted as a miss: the reader then claims the block, and the whole-block Load
  // of its fetch counts it, once.
  BlockStore::Part LoadRun(const FileKey& key, uint64_t index, size_t length,
                           const std::optional<disk::ChunkRun>& run) {
    const uint64_t miss = run ? 0 : 1;
    if (key.validator().empty()) {
      counters_.misses.fetch_add(miss, std::memory_order_relaxed);
      return {};
    }
    const std::string identity = key.ToString();
    const std::string file_hash = disk::FileHashOf(key);
    const std::string path = disk::BlockPathOf(options_.directory, file_hash, index);
    std::vector<std::byte> header(disk::BlockHeaderSize(identity, length));
    const uint64_t offset = run ? run->offset : 0;
    auto bytes = std::make_shared<Block>(run ? static_cast<size_t>(run->length) : length);
    const uint64_t file_size = header.size() + length;
    Result<uint64_t> size =
        files_->ReadAt(path, file_size, header, header.size() + offset, bytes->mutable_bytes());
    if (!size.ok()) {
      counters_.misses.fetch_add(miss, std::memory_order_relaxed);
      // Missing is an ordinary miss (never written, evicted, a row whose file is gone); any
      // other failure to read is counted, and the network serves the read.
      if (size.status().code() != ErrorCode::kNotFound) {
        counters_.errors.fetch_add(1, std::memory_order_relaxed);
      }
      return {};
    }
    const disk::BlockCheck check =
        *size != file_size ? disk::BlockCheck::kTruncated
        : run ? disk::VerifyChunks(header, identity, index, length, *run, bytes->bytes())
              : disk::VerifyBlock(header, bytes->bytes(), identity, index);
    if (check != disk::BlockCheck::kValid) {
      counters_.misses.fetch_add(miss, std::memory_order_relaxed);
      Discard(key, check, path, BlockName{file_hash, index});
      return {};
    }
    counters_.hits.fetch_add(1, std::memory_order_relaxed);
    if (!read_only_) RecordUse(BlockName{file_hash, index});
    return {std::move(bytes), offset};
  }

  // A block file that is not the block it should be: the file and its row go now (written
  // again when the network brings the block).
  void Discard(const FileKey& key, disk::BlockCheck check, const std::string& path,
               const BlockName& name) {
    if (check == disk::BlockCheck::kOtherVersion) {
      // Not damage: a cache written by an older rangefs, upgraded block by block as it is used.
      if (!logged_old_block_.exchange(true)) {
        spdlog::info("disk cache: blocks written by an older rangefs are fetched again");
      }
    } else {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      if (!logged_bad_block_.exchange(true)) {
        spdlog::warn("disk cache: a block of {} failed its checksum; fetching it again ({})",
                     RedactUrl(key.url()), disk::BlockCheckName(check));
      }
    }
    if (read_only_) return;
    (void)files_->Remove(path);
    const std::array<BlockName, 1> names = {name};
    if (Status s = index_->Release(names); !s.ok()) counters_.errors.fetch_add(1);
  }

  void Touch(const FileKey& key, uint64_t index) {
    if (read_only_ || key.validator().empty()) return;
    RecordUse(BlockName{disk::FileHashOf(key), index});
  }

  void Offer(const FileKeyPtr& key, uint64_t index, BlockPtr block) {
    if (read_only_ || key == nullptr || block == nullptr || key->validator().empty()) return;
    const bool paused = writer_.Paused();
    {
      std::lock_guard lock(mu_);
      // A block larger than the whole queue still goes when the writer holds nothing.
      if (!paused && (held_bytes_ == 0 || held_bytes_ + block->size() <= tuning_.queue_bytes)) {
        held_bytes_ += block->size();
        queue_.push_back(PendingBlock{key, index, std::move(block)});
        StartWriterLocked();
        wake_.notify_all();
        return;
      }
    }
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
  }

  uint64_t StoredBytesOf(const FileKey& key) {
    if (key.validator().empty()) return 0;
    Result<disk::CacheIndex::FileUsage> usage = index_->UsageOf(disk::FileHashOf(key));
    if (!usage.ok()) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    // The index counts files; the attribute tells the file's bytes, without the headers. A
    // header's size depends on its block's length, and every block of a version is a full
    // block but the file's last one, so the files' bytes say whether that one is among them.
    const std::string identity = key.ToString();
    const uint64_t block_size = key.block_size();
    const uint64_t full = disk::BlockHeaderSize(identity, block_size) + block_size;
    const uint64_t blocks = (key.size() + block_size - 1) / block_size;
    const uint64_t last = blocks == 0 ? 0 : key.size() - (blocks - 1) * block_size;
    const uint64_t last_file = disk::BlockHeaderSize(identity, last) + last;
    if (usage->bytes == usage->blocks * full) return usage->blocks * block_size;
    if (usage->blocks > 0 && usage->bytes == (usage->blocks - 1) * full + last_file) {
      return (usage->blocks - 1) * block_size + last;
    }
    // Rows of another format (a cache being upgraded): near enough for an attribute.
    const uint64_t headers = usage->blocks * (full - block_size);
    return usage->bytes - std::min(usage->bytes, headers);
  }

  Status Store(const FileKey& key, uint64_t index, const Block& block) {
    if (key.validator().empty()) {
      return Status(ErrorCode::kInvalidArgument,
                    "a version without validators (ETag, Last-Modified) is not kept on disk");
    }
    if (read_only_) {
      return Status(ErrorCode::kInvalidArgument,
                    options_.directory + " is read-only: no block can be kept there");
    }
    std::array<disk::BlockWriter::Item, 1> items;
    items[0].identity = key.ToString();
    items[0].name = BlockName{disk::FileHashOf(key), index};
    items[0].data = block.bytes();
    writer_.Write(items);
    return items[0].status;
  }

  bool Contains(const FileKey& key, uint64_t index) {
    if (key.validator().empty()) return false;
    return files_->Exists(disk::BlockPathOf(options_.directory, disk::FileHashOf(key), index));
  }

  void Flush() {
    if (read_only_) return;  // nothing is ever queued
    std::unique_lock lock(mu_);
    StartWriterLocked();
    const uint64_t ticket = ++flush_requested_;
    wake_.notify_all();
    done_.wait(lock, [&] { return flush_done_ >= ticket; });
  }

  bool read_only() const { return read_only_; }

  DiskCacheStats stats() const {
    DiskCacheStats stats;
    stats.hits = counters_.hits.load(std::memory_order_relaxed);
    stats.misses = counters_.misses.load(std::memory_order_relaxed);
    stats.writes = counters_.writes.load(std::memory_order_relaxed);
    stats.evictions = counters_.evictions.load(std::memory_order_relaxed);
    stats.errors = counters_.errors.load(std::memory_order_relaxed);
    stats.dropped = counters_.dropped.load(std::memory_order_relaxed);
    stats.used_bytes = counters_.used.load(std::memory_order_relaxed);
    stats.max_bytes = options_.max_bytes;
    return stats;
  }

 private:
  // REQUIRES: mu_ held.
  void StartWriterLocked() {
    if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { RunWriter(); });
  }

  void RecordUse(BlockName name) {
    const int64_t now = writer_.NowMicros();
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      uses_.emplace_back(std::move(name), now);
      // The first use starts the writer's interval; a full batch is written at once.
      wake = uses_.size() == 1 || uses_.size() >= tuning_.touch_batch;
      StartWriterLocked();
    }
    if (wake) wake_.notify_all();
  }

  void RunWriter() {
    // Keeping blocks must not slow the reads that bring them: where the CPU is the limit (a
    // fast link, two cores), the writer yields to the readers and drops what it cannot keep.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kWriterNice);
    std::unique_lock lock(mu_);
    // Real time, as the wait below: the interval of hints, which no test steps through.
    Clock::time_point last_touch = Clock::now();
    while (true) {
      const auto work = [&] {
        return stopping_ || !queue_.empty() || uses_.size() >= tuning_.touch_batch ||
               flush_requested_ > flush_done_;
      };
      if (uses_.empty()) {
        // Idle means asleep: no timer while there is nothing to flush.
        wake_.wait(lock, [&] { return work() || !uses_.empty(); });
      } else {
        wake_.wait_for(lock, tuning_.touch_interval, work);
      }
      const uint64_t ticket = flush_requested_;
      const uint64_t flush_done_before = flush_done_;
      const bool stopping = stopping_;
      std::vector<PendingBlock> batch(std::make_move_iterator(queue_.begin()),
                                      std::make_move_iterator(queue_.end()));
      queue_.clear();
      std::vector<std::pair<BlockName, int64_t>> uses;
      const bool touch_due = Clock::now() - last_touch >= tuning_.touch_interval;
      if (touch_due || stopping || ticket > flush_done_ || uses_.size() >= tuning_.touch_batch) {
        uses.swap(uses_);
      }
      lock.unlock();

      // Each block is counted in held_bytes_ until it is written or dropped: with the queue,
      // the writer holds at most queue_bytes of blocks the memory cache may have evicted.
      writer_.WriteBatch(std::move(batch), [this](size_t bytes) {
        std::lock_guard held(mu_);
        held_bytes_ -= std::min(held_bytes_, bytes);
      });
      if (!uses.empty() || touch_due) {
        last_touch = Clock::now();
        writer_.WriteUses(uses);
      }
      // Other processes change the total too: read it again now and then, and for a Flush.
      if (!uses.empty() || touch_due || ticket > flush_done_before) writer_.RefreshUsed();

      lock.lock();
      flush_done_ = std::max(flush_done_, ticket);
      done_.notify_all();
      if (stopping && queue_.empty() && uses_.empty()) return;
    }
  }

  const DiskCacheOptions options_;
  const DiskCacheTuning tuning_;
  // Serves the directory's blocks and keeps none: no writer thread, no write of any kind.
  const bool read_only_;
  const Scheduler& clock_;
  const std::shared_ptr<disk::CacheFiles> files_;
  const std::unique_ptr<disk::CacheIndex> index_;

  disk::CacheCounters counters_;
  std::atomic<bool> logged_bad_block_{false};
  std::atomic<bool> logged_old_block_{false};
  disk::BlockWriter writer_;

  std::mutex mu_;
  std::condition_variable wake_;    // the writer: work arrived, or stopping
  std::condition_variable done_;    // Flush callers: a round of the writer ended
  std::deque<PendingBlock> queue_;  // Guarded by mu_
  size_t held_bytes_ = 0;           // queued and being written (RunWriter); Guarded by mu_
  std::vector<std::pair<BlockName, int64_t>> uses_;  // Guarded by mu_
  uint64_t flush_requested_ = 0;                     // Guarded by mu_
  uint64_t flush_done_ = 0;                          // Guarded by mu_
  bool stopping_ = false;                            // Guarded by mu_
  std::thread thread_;                               // Guarded by mu_ until joined
};

Result<std::unique_ptr<DiskCache>> DiskCacheOpener::Open(const DiskCacheOptions& options,
                                                         std::shared_ptr<disk::CacheFiles> files,
                                                         const DiskCacheTuning& tuning) {
  if (options.directory.empty()) {
    return Status(ErrorCode::kInvalidArgument, "the disk cache needs a directory");
  }
  DiskCacheOptions opened = options;
  while (opened.directory.size() > 1 && opened.directory.back() == '/') opened.directory.pop_back();
  Result<disk::CacheAccess> access = disk::PrepareCacheDirectory(*files, opened.directory);
  if (!access.ok()) return access.status();
  const bool read_only = *access == disk::CacheAccess::kReadOnly;
  const std::string index_path = disk::IndexPathOf(opened.directory);
  Result<std::unique_ptr<disk::CacheIndex>> index =
      read_only ? disk::CacheIndex::OpenReadOnly(index_path) : disk::CacheIndex::Open(index_path);
  if (!index.ok()) {
    return Status(ErrorCode::kInvalidArgument, opened.directory + ": " + index.status().message());
  }
  // The total the triggers keep: one row, however many blocks (no scan of blocks/).
  Result<uint64_t> used = (*index)->Used();
  if (!used.ok()) {
    return Status(ErrorCode::kInvalidArgument, opened.directory + ": " + used.status().message());
  }
  auto impl = std::make_unique<DiskCache::Impl>(std::move(opened), std::move(files),
                                                std::move(index).value(), tuning, *used, read_only);
  return std::unique_ptr<DiskCache>(new DiskCache(std::move(impl)));
}

Result<std::unique_ptr<DiskCache>> DiskCache::Open(const DiskCacheOptions& options) {
  return DiskCacheOpener::Open(options, disk::RealCacheFiles(), DiskCacheTuning{});
}

DiskCache::DiskCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DiskCache::~DiskCache() = default;

BlockPtr DiskCache::Load(const FileKey& key, uint64_t index, size_t length) {
  return impl_->Load(key, index, length);
}
BlockStore::Part DiskCache::LoadPart(const FileKey& key, uint64_t index, size_t length,
                                     uint64_t from, uint64_t to) {
  return impl_->LoadPart(key, index, length, from, to);
}
void DiskCache::Touch(const FileKey& key, uint64_t index) { impl_->Touch(key, index); }
void DiskCache::Offer(const FileKeyPtr& key, uint64_t index, BlockPtr block) {
  impl_->Offer(key, index, std::move(block));
}
uint64_t DiskCache::StoredBytesOf(const FileKey& key) { return impl_->StoredBytesOf(key); }
Status DiskCache::Store(const FileKey& key, uint64_t index, const Block& block) {
  return impl_->Store(key, index, block);
}
bool DiskCache::Contains(const FileKey& key, uint64_t index) { return impl_->Contains(key, index); }
void DiskCache::Flush() { impl_->Flush(); }
bool DiskCache::read_only() const { return impl_->read_only(); }
DiskCacheStats DiskCache::stats() const { return impl_->stats(); }

}  // namespace rangefs
