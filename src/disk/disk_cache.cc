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
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "disk/block_file.h"
#include "disk/cache_directory.h"
#include "disk/cache_files.h"
#include "disk/cache_index.h"
#include "disk/disk_cache_opener.h"
#include "disk/space_budget.h"
#include "disk/write_pause.h"
#include "rangefs/redact.h"

namespace rangefs {

using disk::BlockName;
using disk::BlockRow;

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

// A block to write: who it is, its name on disk, its bytes.
struct PendingBlock {
  FileKeyPtr key;
  uint64_t index = 0;
  BlockPtr block;
};

}  // namespace

class DiskCache::Impl {
 public:
  Impl(DiskCacheOptions options, std::shared_ptr<disk::CacheFiles> files,
       std::unique_ptr<disk::CacheIndex> index, const DiskCacheTuning& tuning, uint64_t used)
      : options_(std::move(options)),
        tuning_(tuning),
        clock_(tuning.clock != nullptr ? *tuning.clock : DefaultClock()),
        files_(std::move(files)),
        index_(std::move(index)),
        temp_dir_(disk::TempDirOf(options_.directory)),
        used_(used),
        pause_(options_.directory, tuning_.fault_pause, clock_),
        space_(options_, *files_, *index_, clock_, tuning_.free_space_interval) {}

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

  BlockPtr Load(const FileKey& key, uint64_t index, size_t length) {
    if (key.validator().empty()) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    const std::string identity = key.ToString();
    const std::string file_hash = disk::FileHashOf(key);
    const std::string path = disk::BlockPathOf(options_.directory, file_hash, index);
    std::vector<std::byte> header(disk::BlockHeaderSize(identity));
    auto block = std::make_shared<Block>(length);
    Result<uint64_t> size = files_->ReadExactly(path, header, block->mutable_bytes());
    if (!size.ok()) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      // Missing is an ordinary miss (never written, evicted, a row whose file is gone); any
      // other failure to read is counted, and the network serves the read.
      if (size.status().code() != ErrorCode::kNotFound) {
        errors_.fetch_add(1, std::memory_order_relaxed);
      }
      return nullptr;
    }
    const disk::BlockCheck check = *size == header.size() + length
                                       ? disk::VerifyBlock(header, block->bytes(), identity, index)
                                       : disk::BlockCheck::kTruncated;
    if (check != disk::BlockCheck::kValid) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      errors_.fetch_add(1, std::memory_order_relaxed);
      if (!logged_bad_block_.exchange(true)) {
        spdlog::warn("disk cache: a block of {} failed its checksum; fetching it again ({})",
                     RedactUrl(key.url()), disk::BlockCheckName(check));
      }
      // Written again when the network brings it: the file and its row go now.
      (void)files_->Remove(path);
      const std::array<BlockName, 1> names = {BlockName{file_hash, index}};
      if (Status s = index_->Release(names); !s.ok()) errors_.fetch_add(1);
      return nullptr;
    }
    hits_.fetch_add(1, std::memory_order_relaxed);
    RecordUse(BlockName{file_hash, index});
    return block;
  }

  void Offer(const FileKeyPtr& key, uint64_t index, BlockPtr block) {
    if (key == nullptr || block == nullptr || key->validator().empty()) return;
    const bool paused = pause_.Paused();
    {
      std::lock_guard lock(mu_);
      // A block larger than the whole queue still goes when the queue is empty.
      if (!paused && (queue_.empty() || queued_bytes_ + block->size() <= tuning_.queue_bytes)) {
        queued_bytes_ += block->size();
        queue_.push_back(PendingBlock{key, index, std::move(block)});
        StartWriterLocked();
        wake_.notify_all();
        return;
      }
    }
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }

  uint64_t StoredBytesOf(const FileKey& key) {
    if (key.validator().empty()) return 0;
    Result<disk::CacheIndex::FileUsage> usage = index_->UsageOf(disk::FileHashOf(key));
    if (!usage.ok()) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    // The index counts files; the attribute tells the file's bytes, without the headers.
    const uint64_t headers = usage->blocks * disk::BlockHeaderSize(key.ToString());
    return usage->bytes - std::min(usage->bytes, headers);
  }

  Status Store(const FileKey& key, uint64_t index, const Block& block) {
    if (key.validator().empty()) {
      return Status(ErrorCode::kInvalidArgument,
                    "a version without validators (ETag, Last-Modified) is not kept on disk");
    }
    std::vector<WriteItem> items(1);
    items[0].identity = key.ToString();
    items[0].name = BlockName{disk::FileHashOf(key), index};
    items[0].data = block.bytes();
    WriteItems(items);
    return items[0].status;
  }

  bool Contains(const FileKey& key, uint64_t index) {
    if (key.validator().empty()) return false;
    return files_->Exists(disk::BlockPathOf(options_.directory, disk::FileHashOf(key), index));
  }

  void Flush() {
    std::unique_lock lock(mu_);
    StartWriterLocked();
    const uint64_t ticket = ++flush_requested_;
    wake_.notify_all();
    done_.wait(lock, [&] { return flush_done_ >= ticket; });
  }

  DiskCacheStats stats() const {
    DiskCacheStats stats;
    stats.hits = hits_.load(std::memory_order_relaxed);
    stats.misses = misses_.load(std::memory_order_relaxed);
    stats.writes = writes_.load(std::memory_order_relaxed);
    stats.evictions = evictions_.load(std::memory_order_relaxed);
    stats.errors = errors_.load(std::memory_order_relaxed);
    stats.dropped = dropped_.load(std::memory_order_relaxed);
    stats.used_bytes = used_.load(std::memory_order_relaxed);
    stats.max_bytes = options_.max_bytes;
    return stats;
  }

 private:
  // One block of a batch being written, and how it went.
  struct WriteItem {
    std::string identity;  // FileKey::ToString()
    BlockName name;
    std::span<const std::byte> data;
    Status status;
  };

  // REQUIRES: mu_ held.
  void StartWriterLocked() {
    if (!writer_.joinable() && !stopping_) writer_ = std::thread([this] { RunWriter(); });
  }

  void RecordUse(BlockName name) {
    const int64_t now = NowMicros();
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

  // Microseconds since the epoch, strictly increasing within this process: two uses never tie,
  // so the eviction order is the order of use.
  int64_t NowMicros() {
    const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    int64_t last = last_micros_.load();
    int64_t next = 0;
    do {
      next = std::max(now, last + 1);
    } while (!last_micros_.compare_exchange_weak(last, next));
    return next;
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
      queued_bytes_ = 0;
      std::vector<std::pair<BlockName, int64_t>> uses;
      const bool touch_due = Clock::now() - last_touch >= tuning_.touch_interval;
      if (touch_due || stopping || ticket > flush_done_ || uses_.size() >= tuning_.touch_batch) {
        uses.swap(uses_);
      }
      lock.unlock();

      WriteBatch(batch);
      batch.clear();  // the blocks' memory goes back before the next wait
      if (!uses.empty() || touch_due) {
        last_touch = Clock::now();
        FlushUses(uses);
      }
      // Other processes change the total too: read it again now and then, and for a Flush.
      if (!uses.empty() || touch_due || ticket > flush_done_before) RefreshUsed();

      lock.lock();
      flush_done_ = std::max(flush_done_, ticket);
      done_.notify_all();
      if (stopping && queue_.empty() && uses_.empty()) return;
    }
  }

  void WriteBatch(const std::vector<PendingBlock>& batch) {
    if (batch.empty()) return;
    if (pause_.Paused()) {
      dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
      return;
    }
    std::vector<WriteItem> items;
    items.reserve(batch.size());
    std::set<std::pair<std::string, uint64_t>> seen;  // a block offered twice is written once
    for (const PendingBlock& pending : batch) {
      WriteItem item;
      item.name = BlockName{disk::FileHashOf(*pending.key), pending.index};
      if (!seen.emplace(item.name.file, item.name.index).second) continue;
      item.identity = pending.key->ToString();
      item.data = pending.block->bytes();
      items.push_back(std::move(item));
    }
    WriteItems(items);
    for (const WriteItem& item : items) {
      if (!item.status.ok()) dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Accounts, evicts for and writes `items` (one transaction for all), setting each one's
  // status. Runs on the writer thread, or on a Store caller's.
  void WriteItems(std::vector<WriteItem>& items) {
    std::vector<BlockRow> rows;
    rows.reserve(items.size());
    for (const WriteItem& item : items) {
      rows.push_back(BlockRow{item.name, disk::BlockHeaderSize(item.identity) + item.data.size()});
    }
    Result<uint64_t> limit = space_.Limit();
    if (!limit.ok()) {
      FailAll(items, limit.status());
      return;
    }
    // Evicted files go while the index's write lock is held (cache_index.h says why). A file
    // another process is reading stays readable through its descriptor.
    Result<disk::Reservation> reservation =
        index_->Reserve(rows, *limit, NowMicros(), [this](const BlockName& victim) {
          (void)files_->Remove(disk::BlockPathOf(options_.directory, victim.file, victim.index));
        });
    if (!reservation.ok()) {
      FailAll(items, reservation.status());
      return;
    }
    used_.store(reservation->used, std::memory_order_relaxed);
    evictions_.fetch_add(reservation->evicted.size(), std::memory_order_relaxed);

    std::vector<BlockName> failed;
    std::vector<BlockName> written;
    Status fault;
    for (size_t i = 0; i < items.size(); ++i) {
      WriteItem& item = items[i];
      if (reservation->refused[i]) {
        item.status = Status(ErrorCode::kLimitExceeded,
                             "the block does not fit within the disk cache's bounds");
        continue;
      }
      const std::string path =
          disk::BlockPathOf(options_.directory, item.name.file, item.name.index);
      // A row that was there already: its file too, unless a crash or a failed write lost it.
      if (reservation->existed[i] && files_->Exists(path)) continue;
      if (!fault.ok()) {
        // Once one write failed (no space, read-only), the rest of the batch would too.
        item.status = fault;
        if (!reservation->existed[i]) failed.push_back(item.name);
        continue;
      }
      const std::string header = disk::EncodeBlockHeader(item.identity, item.name.index, item.data);
      const std::array<std::span<const std::byte>, 2> parts = {
          std::as_bytes(std::span(header.data(), header.size())), item.data};
      item.status = files_->WriteAtomically(temp_dir_, path, parts);
      if (item.status.ok()) {
        writes_.fetch_add(1, std::memory_order_relaxed);
        written.push_back(item.name);
      } else {
        fault = item.status;
        failed.push_back(item.name);
      }
    }
    // Another writer may have evicted a row while its file was being written (a row just
    // reserved is the oldest only in a cache not much larger than the writers' batches): its
    // file goes too, so that no file outlives its row.
    if (Result<std::vector<BlockName>> gone = index_->Missing(written); gone.ok()) {
      for (const BlockName& name : *gone) {
        (void)files_->Remove(disk::BlockPathOf(options_.directory, name.file, name.index));
      }
    }
    if (!failed.empty()) {
      if (Status s = index_->Release(failed); !s.ok()) errors_.fetch_add(1);
      RefreshUsed();
    }
    if (!fault.ok()) {
      Fault(fault);
    } else {
      pause_.Recovered();
    }
  }

  void FailAll(std::vector<WriteItem>& items, const Status& status) {
    for (WriteItem& item : items) item.status = status;
    Fault(status);
  }

  void FlushUses(const std::vector<std::pair<BlockName, int64_t>>& uses) {
    // Hints for the eviction order: while writing is paused they are dropped.
    if (uses.empty() || pause_.Paused()) return;
    if (Status s = index_->Touch(uses); !s.ok()) Fault(s);
  }

  void RefreshUsed() {
    if (Result<uint64_t> used = index_->Used(); used.ok()) {
      used_.store(*used, std::memory_order_relaxed);
    }
  }

  // A write or an index update failed: counted, and writing pauses (write_pause.h).
  void Fault(const Status& status) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    pause_.Fault(status);
  }

  const DiskCacheOptions options_;
  const DiskCacheTuning tuning_;
  const Scheduler& clock_;
  const std::shared_ptr<disk::CacheFiles> files_;
  const std::unique_ptr<disk::CacheIndex> index_;
  const std::string temp_dir_;

  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> evictions_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> used_;  // the index's total, as last read
  std::atomic<int64_t> last_micros_{0};
  std::atomic<bool> logged_bad_block_{false};
  disk::WritePause pause_;
  disk::SpaceBudget space_;

  std::mutex mu_;
  std::condition_variable wake_;                     // the writer: work arrived, or stopping
  std::condition_variable done_;                     // Flush callers: a round of the writer ended
  std::deque<PendingBlock> queue_;                   // Guarded by mu_
  size_t queued_bytes_ = 0;                          // of queue_'s blocks; Guarded by mu_
  std::vector<std::pair<BlockName, int64_t>> uses_;  // Guarded by mu_
  uint64_t flush_requested_ = 0;                     // Guarded by mu_
  uint64_t flush_done_ = 0;                          // Guarded by mu_
  bool stopping_ = false;                            // Guarded by mu_
  std::thread writer_;                               // Guarded by mu_ until joined
};

Result<std::unique_ptr<DiskCache>> DiskCacheOpener::Open(const DiskCacheOptions& options,
                                                         std::shared_ptr<disk::CacheFiles> files,
                                                         const DiskCacheTuning& tuning) {
  if (options.directory.empty()) {
    return Status(ErrorCode::kInvalidArgument, "the disk cache needs a directory");
  }
  DiskCacheOptions opened = options;
  while (opened.directory.size() > 1 && opened.directory.back() == '/') opened.directory.pop_back();
  if (Status s = disk::PrepareCacheDirectory(*files, opened.directory); !s.ok()) return s;
  Result<std::unique_ptr<disk::CacheIndex>> index =
      disk::CacheIndex::Open(disk::IndexPathOf(opened.directory));
  if (!index.ok()) {
    return Status(ErrorCode::kInvalidArgument, opened.directory + ": " + index.status().message());
  }
  // The total the triggers keep: one row, however many blocks (no scan of blocks/).
  Result<uint64_t> used = (*index)->Used();
  if (!used.ok()) {
    return Status(ErrorCode::kInvalidArgument, opened.directory + ": " + used.status().message());
  }
  auto impl = std::make_unique<DiskCache::Impl>(std::move(opened), std::move(files),
                                                std::move(index).value(), tuning, *used);
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
void DiskCache::Offer(const FileKeyPtr& key, uint64_t index, BlockPtr block) {
  impl_->Offer(key, index, std::move(block));
}
uint64_t DiskCache::StoredBytesOf(const FileKey& key) { return impl_->StoredBytesOf(key); }
Status DiskCache::Store(const FileKey& key, uint64_t index, const Block& block) {
  return impl_->Store(key, index, block);
}
bool DiskCache::Contains(const FileKey& key, uint64_t index) { return impl_->Contains(key, index); }
void DiskCache::Flush() { impl_->Flush(); }
DiskCacheStats DiskCache::stats() const { return impl_->stats(); }

}  // namespace rangefs
