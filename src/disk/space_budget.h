// SpaceBudget: how many bytes of block files the disk cache may hold now: the configured size
// (--disk-cache-size), or less when the filesystem would be left with less than the minimum free
// (--disk-cache-min-free). The filesystem is asked at most once per interval: a write's check
// must not cost a system call each.
//
// Thread-safety: thread-safe; one mutex, not held while the filesystem or the index is asked
// (two writers measuring at once both get it right).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include "disk/cache_files.h"
#include "disk/cache_index.h"
#include "rangefs/disk_cache.h"
#include "rangefs/scheduler.h"
#include "rangefs/status.h"

namespace rangefs::disk {

class SpaceBudget {
 public:
  // `files`, `index` and `clock` must outlive this.
  SpaceBudget(const DiskCacheOptions& options, CacheFiles& files, CacheIndex& index,
              const Scheduler& clock, std::chrono::milliseconds interval)
      : options_(options), files_(files), index_(index), clock_(clock), interval_(interval) {}

  // The bound of the next write: the index's total when the filesystem was last measured, plus
  // what was free then, less the minimum free; at most the configured size.
  Result<uint64_t> Limit();

 private:
  const DiskCacheOptions options_;
  CacheFiles& files_;
  CacheIndex& index_;
  const Scheduler& clock_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  bool checked_ = false;                     // Guarded by mu_
  Scheduler::Clock::time_point checked_at_;  // Guarded by mu_
  uint64_t budget_ = 0;                      // Guarded by mu_
};

}  // namespace rangefs::disk
