// DiskCacheOpener: opens a DiskCache on given filesystem operations and timings. Open() uses
// the real filesystem and the defaults below; unit tests wrap the filesystem to inject faults
// and move a manual clock.
//
// Thread-safety: a factory without state.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "disk/cache_files.h"
#include "rangefs/disk_cache.h"
#include "rangefs/scheduler.h"
#include "rangefs/status.h"

namespace rangefs {

struct DiskCacheTuning {
  // How long writing stays paused after a fault (no space, read-only, permissions, the index):
  // long enough that a full disk costs one failed write per half minute, short enough that
  // space freed by the user is used soon.
  std::chrono::milliseconds fault_pause{30'000};
  // Bytes of offered blocks the writer holds, at most: those waiting and those being written
  // (a block counts until it is written or dropped); more are dropped. Enough for the writer to
  // catch up after a burst of readahead (the largest window is 64 MiB) while a fast link
  // outruns it for a moment. Blocks the memory cache has evicted stay alive only here, so this
  // bounds what the disk cache adds to the peak memory.
  size_t queue_bytes = size_t{64} << 20;
  // Last-use times of hits are written at least this often, or when this many wait: one
  // transaction for many hits.
  std::chrono::milliseconds touch_interval{1'000};
  size_t touch_batch = 1024;
  // statvfs at most this often: a write's free-space check must not cost a system call each.
  std::chrono::milliseconds free_space_interval{1'000};
  // The clock of the fault pause and the free-space interval; null: the steady clock.
  const Scheduler* clock = nullptr;
};

class DiskCacheOpener {
 public:
  static Result<std::unique_ptr<DiskCache>> Open(const DiskCacheOptions& options,
                                                 std::shared_ptr<disk::CacheFiles> files,
                                                 const DiskCacheTuning& tuning);
};

}  // namespace rangefs
