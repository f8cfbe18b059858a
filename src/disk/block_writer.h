// BlockWriter: the disk cache's write path. For a batch of blocks (the writer thread's, or the
// one block of a Store) it reserves their rows in the index in one transaction, evicting the
// least recently used rows of any file to stay within the bounds (SpaceBudget); writes the
// files that are missing; removes the files whose rows another process evicted while they were
// being written; and releases the rows of writes that failed. It also writes the batched
// last-use times of hits, and reads the index's total again when asked.
//
// A failed write or index update is a fault: counted, one log line, and writing pauses
// (WritePause) until the pause ends; a write that works afterwards ends it. A write that fails
// because DIR/tmp or DIR/blocks/XX is missing (deleted under a running mount) first makes the
// missing directories again and tries once more: only if that fails too is it a fault. DIR
// itself is never made again: without its format file and index it would not be a cache.
//
// Thread-safety: thread-safe. Write runs on the writer thread and on Store callers' threads at
// once; the index serializes their reservations. Owns the pause and the space budget; the
// files, the index and the counters are the DiskCache's and must outlive it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "disk/cache_files.h"
#include "disk/cache_index.h"
#include "disk/space_budget.h"
#include "disk/write_pause.h"
#include "rangefs/block.h"
#include "rangefs/disk_cache.h"
#include "rangefs/file_key.h"
#include "rangefs/scheduler.h"
#include "rangefs/status.h"

namespace rangefs::disk {

// The counters behind DiskCacheStats, shared by the cache's read side and its writer.
struct CacheCounters {
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> evictions{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> used{0};  // the index's total, as last read
};

// An offered block waiting to be written: whose it is, and its bytes.
struct PendingBlock {
  FileKeyPtr key;
  uint64_t index = 0;
  BlockPtr block;
};

using BlockUse = std::pair<BlockName, int64_t>;  // a block and its last use (µs)

class BlockWriter {
 public:
  // One block to write, and how it went.
  struct Item {
    std::string identity;  // FileKey::ToString()
    BlockName name;
    std::span<const std::byte> data;
    Status status;
  };

  // `files`, `index`, `counters` and `clock` must outlive this.
  BlockWriter(const DiskCacheOptions& options, CacheFiles& files, CacheIndex& index,
              CacheCounters& counters, const Scheduler& clock,
              std::chrono::milliseconds fault_pause, std::chrono::milliseconds free_space_interval);

  // Whether writing is paused by a fault.
  bool Paused() const { return pause_.Paused(); }

  // Writes the writer thread's batch: a block offered twice is written once; blocks not
  // written are counted as dropped. `finished(bytes)` is called for each block of the batch as
  // soon as it is written or dropped, once this has let go of it: the queue's byte bound counts
  // a block until then.
  void WriteBatch(std::vector<PendingBlock> batch, const std::function<void(size_t)>& finished);

  // Accounts, evicts for and writes `items` (one transaction for all), setting each one's
  // status. `done(i)`, when given, is called as soon as item i has its final status; its data
  // is not read after that. Items that fail all together (the space check, the reservation)
  // are not reported through it.
  void Write(std::span<Item> items, const std::function<void(size_t)>& done = {});

  // The last uses of hits, for the eviction order; dropped while writing is paused.
  void WriteUses(std::span<const BlockUse> uses);

  // Reads the index's total again (other processes change it too).
  void RefreshUsed();

  // Microseconds since the epoch, strictly increasing within this process: two uses never tie,
  // so the eviction order is the order of use.
  int64_t NowMicros();

 private:
  // One block file; when DIR/tmp or the file's DIR/blocks/XX is missing, makes them again and
  // tries once more.
  Status WriteFile(const std::string& path, std::span<const std::span<const std::byte>> parts);
  // Writes one reserved item, unless it was refused, its file is there, or an earlier write of
  // the batch failed (`fault`); adds its name to `failed` (rows to release) or `written`.
  void WriteOne(Item& item, bool existed, bool refused, Status& fault,
                std::vector<BlockName>& failed, std::vector<BlockName>& written);
  void FailAll(std::span<Item> items, const Status& status);
  // A write or an index update failed: counted, and writing pauses (write_pause.h).
  void Fault(const Status& status);

  const std::string directory_;
  const std::string temp_dir_;
  CacheFiles& files_;
  CacheIndex& index_;
  CacheCounters& counters_;
  WritePause pause_;
  SpaceBudget space_;
  std::atomic<int64_t> last_micros_{0};
};

}  // namespace rangefs::disk
