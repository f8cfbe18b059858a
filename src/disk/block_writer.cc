#include "disk/block_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <set>

#include "disk/block_file.h"
#include "disk/cache_directory.h"

namespace rangefs::disk {

BlockWriter::BlockWriter(const DiskCacheOptions& options, CacheFiles& files, CacheIndex& index,
                         CacheCounters& counters, const Scheduler& clock,
                         std::chrono::milliseconds fault_pause,
                         std::chrono::milliseconds free_space_interval)
    : directory_(options.directory),
      temp_dir_(TempDirOf(options.directory)),
      files_(files),
      index_(index),
      counters_(counters),
      pause_(options.directory, fault_pause, clock),
      space_(options, files, index, clock, free_space_interval) {}

void BlockWriter::WriteBatch(std::vector<PendingBlock> batch,
                             const std::function<void(size_t)>& finished) {
  // Lets go of block i (its memory may be the last reference) and says so, once.
  const auto release = [&](size_t i) {
    if (batch[i].block == nullptr) return;
    const size_t bytes = batch[i].block->size();
    batch[i].block.reset();
    if (finished) finished(bytes);
  };
  if (pause_.Paused()) {
    counters_.dropped.fetch_add(batch.size(), std::memory_order_relaxed);
    for (size_t i = 0; i < batch.size(); ++i) release(i);
    return;
  }
  std::vector<Item> items;
  std::vector<size_t> sources;  // items[k] is batch[sources[k]]
  items.reserve(batch.size());
  sources.reserve(batch.size());
  std::set<std::pair<std::string, uint64_t>> seen;  // a block offered twice is written once
  for (size_t i = 0; i < batch.size(); ++i) {
    const PendingBlock& pending = batch[i];
    Item item;
    item.name = BlockName{FileHashOf(*pending.key), pending.index};
    if (!seen.emplace(item.name.file, item.name.index).second) {
      release(i);
      continue;
    }
    item.identity = pending.key->ToString();
    item.data = pending.block->bytes();
    items.push_back(std::move(item));
    sources.push_back(i);
  }
  if (!items.empty()) Write(items, [&](size_t k) { release(sources[k]); });
  for (const Item& item : items) {
    if (!item.status.ok()) counters_.dropped.fetch_add(1, std::memory_order_relaxed);
  }
  for (size_t i = 0; i < batch.size(); ++i) release(i);  // those that failed all together
}

void BlockWriter::Write(std::span<Item> items, const std::function<void(size_t)>& done) {
  std::vector<BlockRow> rows;
  rows.reserve(items.size());
  for (const Item& item : items) {
    rows.push_back(
        BlockRow{item.name, BlockHeaderSize(item.identity, item.data.size()) + item.data.size()});
  }
  Result<uint64_t> limit = space_.Limit();
  if (!limit.ok()) {
    FailAll(items, limit.status());
    return;
  }
  // Evicted files go while the index's write lock is held (cache_index.h says why). A file
  // another process is reading stays readable through its descriptor.
  Result<Reservation> reservation =
      index_.Reserve(rows, *limit, NowMicros(), [this](const BlockName& victim) {
        (void)files_.Remove(BlockPathOf(directory_, victim.file, victim.index));
      });
  if (!reservation.ok()) {
    FailAll(items, reservation.status());
    return;
  }
  counters_.used.store(reservation->used, std::memory_order_relaxed);
  counters_.evictions.fetch_add(reservation->evicted.size(), std::memory_order_relaxed);

  std::vector<BlockName> failed;
  std::vector<BlockName> written;
  Status fault;
  for (size_t i = 0; i < items.size(); ++i) {
    Item& item = items[i];
    WriteOne(item, reservation->existed[i], reservation->refused[i], fault, failed, written);
    item.data = {};
    if (done) done(i);
  }
  // Another writer may have evicted a row while its file was being written (a row just
  // reserved is the oldest only in a cache not much larger than the writers' batches): its
  // file goes too, so that no file outlives its row.
  if (Result<std::vector<BlockName>> gone = index_.Missing(written); gone.ok()) {
    for (const BlockName& name : *gone) {
      (void)files_.Remove(BlockPathOf(directory_, name.file, name.index));
    }
  }
  if (!failed.empty()) {
    if (Status s = index_.Release(failed); !s.ok()) counters_.errors.fetch_add(1);
    RefreshUsed();
  }
  if (!fault.ok()) {
    Fault(fault);
  } else {
    pause_.Recovered();
  }
}

void BlockWriter::WriteOne(Item& item, bool existed, bool refused, Status& fault,
                           std::vector<BlockName>& failed, std::vector<BlockName>& written) {
  if (refused) {
    item.status =
        Status(ErrorCode::kLimitExceeded, "the block does not fit within the disk cache's bounds");
    return;
  }
  const std::string path = BlockPathOf(directory_, item.name.file, item.name.index);
  // A row that was there already: its file too, unless a crash or a failed write lost it.
  if (existed && files_.Exists(path)) return;
  if (!fault.ok()) {
    // Once one write failed (no space, read-only), the rest of the batch would too.
    item.status = fault;
    if (!existed) failed.push_back(item.name);
    return;
  }
  const std::string header = EncodeBlockHeader(item.identity, item.name.index, item.data);
  const std::array<std::span<const std::byte>, 2> parts = {
      std::as_bytes(std::span(header.data(), header.size())), item.data};
  item.status = WriteFile(path, parts);
  if (item.status.ok()) {
    counters_.writes.fetch_add(1, std::memory_order_relaxed);
    written.push_back(item.name);
  } else {
    fault = item.status;
    failed.push_back(item.name);
  }
}

Status BlockWriter::WriteFile(const std::string& path,
                              std::span<const std::span<const std::byte>> parts) {
  Status status = files_.WriteAtomically(temp_dir_, path, parts);
  // DIR/tmp or DIR/blocks deleted under a running mount: made again, once. DIR itself is not:
  // without its format file and index it would be a foreign directory to the next Open.
  if (status.code() != ErrorCode::kNotFound || !files_.Exists(directory_)) return status;
  const std::string parent = path.substr(0, path.rfind('/'));
  if (!files_.MakeDirectories(temp_dir_).ok() || !files_.MakeDirectories(parent).ok()) {
    return status;
  }
  spdlog::info("disk cache: {}: made its missing directories again", directory_);
  return files_.WriteAtomically(temp_dir_, path, parts);
}

void BlockWriter::WriteUses(std::span<const BlockUse> uses) {
  // Hints for the eviction order: while writing is paused they are dropped.
  if (uses.empty() || pause_.Paused()) return;
  if (Status s = index_.Touch(uses); !s.ok()) Fault(s);
}

void BlockWriter::RefreshUsed() {
  if (Result<uint64_t> used = index_.Used(); used.ok()) {
    counters_.used.store(*used, std::memory_order_relaxed);
  }
}

int64_t BlockWriter::NowMicros() {
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

void BlockWriter::FailAll(std::span<Item> items, const Status& status) {
  for (Item& item : items) item.status = status;
  Fault(status);
}

void BlockWriter::Fault(const Status& status) {
  counters_.errors.fetch_add(1, std::memory_order_relaxed);
  pause_.Fault(status);
}

}  // namespace rangefs::disk
