// BlockCache: the blocks of remote files kept in memory, under a byte budget, with LRU eviction,
// plus single-flight bookkeeping of blocks being loaded, so that concurrent readers of the same
// missing block wait for one request instead of each sending their own.
//
// A block is in one of three states: absent, loading (claimed by exactly one loader, which must
// end the claim with Fulfill or Fail), or cached. Cached blocks are handed out as shared
// pointers, so evicting a block never frees bytes that a reader is still copying.
//
// Thread-safety: all methods are thread-safe; one mutex, never held while waiting.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>

#include "rangefs/block.h"
#include "rangefs/status.h"

namespace rangefs {

// What a waiter for a loading block eventually gets.
using BlockResult = Result<BlockPtr>;
using BlockFuture = std::shared_future<BlockResult>;

struct BlockCacheStats {
  uint64_t hits = 0;       // Acquire found the block cached
  uint64_t misses = 0;     // Acquire found it absent or loading
  uint64_t evictions = 0;  // blocks dropped to stay under the budget
  uint64_t retired = 0;    // blocks dropped because their version was replaced
  size_t cached_bytes = 0;
  size_t cached_blocks = 0;
  size_t loading_blocks = 0;
};

class BlockCache {
 public:
  // REQUIRES: capacity_bytes > 0.
  explicit BlockCache(size_t capacity_bytes);
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The answer to "I need this block": exactly one of the three is set.
  struct Acquired {
    BlockPtr block;           // cached: use it (and it is now most recently used)
    BlockFuture pending;      // loading, by someone else or (when claimed) by the caller
    bool claimed = false;     // the caller must load the block and call Fulfill or Fail;
                              // `pending` then resolves when it does
    bool report_use = false;  // a hit the block store should hear of (SetUseReportInterval)
  };

  // A block served from memory for a long time is, to the disk cache behind it, a block nobody
  // reads: its last use there is when it was stored or loaded. With an interval set, a hit
  // sets Acquired::report_use when the block has been cached (or last reported) at least that
  // long, so the reader tells the store (BlockStore::Touch) and a hot block keeps its place in
  // the store's LRU. Sequential reads, whose blocks leave memory soon, report nothing.
  // Default: never.
  void SetUseReportInterval(std::chrono::steady_clock::duration interval);

  // For readers: a hit, or a future for a load, claiming the load when nobody has.
  Acquired Acquire(const BlockKey& key);

  // Whether the block is cached or loading, without counting a hit or miss or touching the LRU
  // order: for readers that can be served from elsewhere (the disk cache) when it is absent.
  bool Holds(const BlockKey& key) const;

  // For prefetchers: claims the block only when it is absent (neither cached nor loading), and
  // does not count a hit or miss or touch the LRU order. Returns whether it claimed.
  bool TryClaim(const BlockKey& key);

  // Ends a claim: caches the block (evicting least recently used blocks to stay within budget)
  // and hands it to every waiter. A block larger than the whole budget is handed to waiters but
  // not cached.
  // REQUIRES: the caller claimed `key`.
  void Fulfill(const BlockKey& key, BlockPtr block);

  // Ends a claim without a block: waiters get `status`, and the block is absent again.
  // REQUIRES: the caller claimed `key`; !status.ok().
  void Fail(const BlockKey& key, const Status& status);

  // Drops every cached block of `file` (one version of a remote file), for a version the remote
  // has replaced. Loads of it in flight still reach their waiters but are not cached; later
  // loads are (a remote that goes back to this version makes them valid again). Returns how
  // many blocks were dropped.
  size_t Retire(const FileKey& file);

  // The cached block, without counting a hit or touching the LRU order; null if not cached.
  BlockPtr Peek(const BlockKey& key) const;

  // Bytes of `file` in the cache, loading blocks not included. Walks the whole cache: for rare
  // callers.
  size_t CachedBytesOf(const FileKey& file) const;

  BlockCacheStats stats() const;
  size_t capacity_bytes() const { return capacity_bytes_; }

 private:
  struct State;  // Boost.MultiIndex LRU + loading table, hidden from includers

  const size_t capacity_bytes_;
  mutable std::mutex mu_;
  std::optional<std::chrono::steady_clock::duration> report_interval_;  // Guarded by mu_
  std::unique_ptr<State> state_;                                        // Guarded by mu_
};

}  // namespace rangefs
