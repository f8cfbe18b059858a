// BlockFetcher: loads claimed blocks from the RangeSource into the BlockCache. One call makes
// one range request for a run of adjacent blocks; blocks are published to the cache one by one
// as their bytes arrive, so a reader waiting for the first block of a long request does not
// wait for the whole request. If the request fails part-way, blocks already complete stay
// cached and the rest of the claims fail, waking their waiters with the error.
//
// Thread-safety: thread-safe. Cache and source must outlive the fetcher and its requests.
#pragma once

#include <cstdint>
#include <vector>

#include "rangefs/block_cache.h"
#include "rangefs/file_version.h"
#include "rangefs/range_source.h"

namespace rangefs {

class BlockFetcher {
 public:
  // REQUIRES: block_size > 0.
  BlockFetcher(BlockCache& cache, RangeSource& source, uint64_t block_size)
      : cache_(cache), source_(source), block_size_(block_size) {}

  // Starts one request for blocks [first_index, last_index] of `version`.
  // REQUIRES: the caller claimed each of those blocks in the cache; they lie inside the file.
  void FetchClaimed(const FileVersionPtr& version, uint64_t first_index, uint64_t last_index,
                    FetchPriority priority);

  // A run of adjacent blocks [first_index, last_index].
  struct Run {
    uint64_t first_index = 0;
    uint64_t last_index = 0;
  };
  // Loads several runs of `version` at once: one multi-range request where the source can.
  // REQUIRES: as FetchClaimed, for every run.
  void FetchClaimedRuns(const FileVersionPtr& version, const std::vector<Run>& runs,
                        FetchPriority priority);

  // Claims every block of [first_index, last_index] of `version` that is neither cached nor
  // loading, and appends the claimed blocks to `runs` as runs of adjacent blocks (extending the
  // last run of `runs` when it ends right before). The caller must fetch (or fail) every claim.
  void ClaimMissing(const FileVersionPtr& version, uint64_t first_index, uint64_t last_index,
                    std::vector<Run>& runs);

  // A reader waits for blocks [first_index, last_index] of `version`, which other requests are
  // loading: those still queued behind readahead start now.
  void Expedite(const FileVersionPtr& version, uint64_t first_index, uint64_t last_index);

  BlockCache& cache() const { return cache_; }
  uint64_t block_size() const { return block_size_; }
  // Number of blocks of a file of `file_size` bytes.
  uint64_t BlockCount(uint64_t file_size) const {
    return (file_size + block_size_ - 1) / block_size_;
  }

 private:
  BlockCache& cache_;
  RangeSource& source_;
  const uint64_t block_size_;
};

}  // namespace rangefs
