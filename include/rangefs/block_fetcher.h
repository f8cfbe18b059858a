// BlockFetcher: loads claimed blocks from the RangeSource into the BlockCache. One call makes
// one range request for a run of adjacent blocks; blocks are published to the cache one by one
// as their bytes arrive, so a reader waiting for the first block of a long request does not
// wait for the whole request. If the request fails part-way, blocks already complete stay
// cached and the rest of the claims fail, waking their waiters with the error.
//
// With a BlockStore (the disk cache), claimed blocks are looked for there first: those it holds
// are published from it, and only the runs of the rest go to the source. A demand fetch looks
// on the caller's thread (the reader waits for those bytes anyway); a prefetch on the fetcher's
// own workers, so readahead never holds up the read that started it. Every block the source
// brings is offered to the store.
//
// Thread-safety: thread-safe. Cache, source and store must outlive the fetcher and its requests;
// the destructor waits for the store lookups running and fails the claims of those not started.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "rangefs/block_cache.h"
#include "rangefs/block_store.h"
#include "rangefs/file_version.h"
#include "rangefs/range_source.h"
#include "rangefs/task_pool.h"

namespace rangefs {

class BlockFetcher {
 public:
  // Prefetches look for blocks in the store on this many threads.
  static constexpr size_t kStoreWorkers = 4;

  // REQUIRES: block_size > 0. `store` may be null (no second tier).
  BlockFetcher(BlockCache& cache, RangeSource& source, uint64_t block_size,
               BlockStore* store = nullptr);
  ~BlockFetcher();
  BlockFetcher(const BlockFetcher&) = delete;
  BlockFetcher& operator=(const BlockFetcher&) = delete;

  // Gives the fetcher its store after construction: the disk cache's threads and its SQLite
  // connection do not survive the daemon's fork, so main opens it in the daemon.
  // REQUIRES: no store yet; called before any fetch, with no other call running.
  void SetStore(BlockStore* store);

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
  BlockStore* store() const { return store_; }
  uint64_t block_size() const { return block_size_; }
  // Number of blocks of a file of `file_size` bytes.
  uint64_t BlockCount(uint64_t file_size) const {
    return (file_size + block_size_ - 1) / block_size_;
  }

 private:
  class StoreLookup;

  // Asks the source for the runs (one multi-range request where it can).
  void FetchFromSource(const FileVersionPtr& version, const std::vector<Run>& runs,
                       FetchPriority priority);
  // Publishes the blocks of `runs` the store holds and returns the runs of the rest.
  std::vector<Run> LoadFromStore(const FileVersionPtr& version, const std::vector<Run>& runs);

  BlockCache& cache_;
  RangeSource& source_;
  const uint64_t block_size_;
  BlockStore* store_;                        // may be null; set before fetches
  std::unique_ptr<TaskPool> store_workers_;  // with a store: where prefetches look in it
};

}  // namespace rangefs
