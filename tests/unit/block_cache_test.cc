#include "rangefs/block_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include "fakes/printers.h"

namespace rangefs {
namespace {

constexpr uint64_t kFile = 2;

// The FileKey of file number `file` at version `version`. Each call makes a new FileKey: keys
// are told apart by what they name, never by which object holds it.
FileKey File(uint64_t file, uint64_t version = 0) {
  return FileKey("https://h/" + std::to_string(file), 1 << 20,
                 "etag \"" + std::to_string(version) + "\"", 64 << 10);
}

BlockKey Key(uint64_t index, uint64_t file = kFile, uint64_t version = 0) {
  return BlockKey{.file = std::make_shared<const FileKey>(File(file, version)), .index = index};
}

// A block of `size` bytes, every one of them `fill`.
std::shared_ptr<Block> MakeBlock(size_t size, uint8_t fill) {
  auto block = std::make_shared<Block>(size);
  std::ranges::fill(block->mutable_bytes(), std::byte{fill});
  return block;
}

bool AllBytesAre(const Block& block, uint8_t fill) {
  return std::ranges::all_of(block.bytes(), [fill](std::byte b) { return b == std::byte{fill}; });
}

bool IsReady(const BlockFuture& future) {
  return future.valid() && future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

bool IsCached(const BlockCache& cache, const BlockKey& key) { return cache.Peek(key) != nullptr; }

// Claims `key` and fills it as a loader would; returns the block now cached (or handed out).
BlockPtr Load(BlockCache& cache, const BlockKey& key, size_t size, uint8_t fill = 0) {
  BlockCache::Acquired acquired = cache.Acquire(key);
  EXPECT_TRUE(acquired.claimed) << "key " << key.index << " was not absent";
  if (!acquired.claimed) return nullptr;
  BlockPtr block = MakeBlock(size, fill);
  cache.Fulfill(key, block);
  return block;
}

TEST(BlockCacheTest, AcquireOfAnAbsentBlockClaimsIt) {
  BlockCache cache(1000);
  BlockCache::Acquired acquired = cache.Acquire(Key(0));
  EXPECT_TRUE(acquired.claimed);
  EXPECT_EQ(acquired.block, nullptr);
  ASSERT_TRUE(acquired.pending.valid());
  EXPECT_FALSE(IsReady(acquired.pending));
  const BlockCacheStats stats = cache.stats();
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.hits, 0u);
  EXPECT_EQ(stats.loading_blocks, 1u);
  EXPECT_EQ(stats.cached_blocks, 0u);
  cache.Fail(Key(0), Status(ErrorCode::kInternal, "test done"));
}

TEST(BlockCacheTest, FulfillCachesTheBlockAndResolvesTheClaim) {
  BlockCache cache(1000);
  BlockCache::Acquired claim = cache.Acquire(Key(0));
  ASSERT_TRUE(claim.claimed);
  const BlockPtr block = MakeBlock(100, 7);
  cache.Fulfill(Key(0), block);

  ASSERT_TRUE(IsReady(claim.pending));
  const BlockResult& result = claim.pending.get();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result.value(), block);
  EXPECT_EQ(cache.Peek(Key(0)), block);

  BlockCache::Acquired hit = cache.Acquire(Key(0));
  EXPECT_FALSE(hit.claimed);
  EXPECT_EQ(hit.block, block);
  EXPECT_FALSE(hit.pending.valid());

  const BlockCacheStats stats = cache.stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.loading_blocks, 0u);
  EXPECT_EQ(stats.cached_blocks, 1u);
  EXPECT_EQ(stats.cached_bytes, 100u);
}

TEST(BlockCacheTest, SecondAcquireOfALoadingBlockWaitsForTheSameLoad) {
  BlockCache cache(1000);
  BlockCache::Acquired first = cache.Acquire(Key(3));
  BlockCache::Acquired second = cache.Acquire(Key(3));
  BlockCache::Acquired third = cache.Acquire(Key(3));
  ASSERT_TRUE(first.claimed);
  EXPECT_FALSE(second.claimed);
  EXPECT_FALSE(third.claimed);
  EXPECT_EQ(second.block, nullptr);
  ASSERT_TRUE(second.pending.valid());
  ASSERT_TRUE(third.pending.valid());
  EXPECT_FALSE(IsReady(second.pending));
  EXPECT_EQ(cache.stats().loading_blocks, 1u);
  EXPECT_EQ(cache.stats().misses, 3u);

  const BlockPtr block = MakeBlock(10, 1);
  cache.Fulfill(Key(3), block);
  for (const BlockCache::Acquired* waiter : {&first, &second, &third}) {
    ASSERT_TRUE(IsReady(waiter->pending));
    const BlockResult& result = waiter->pending.get();
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result.value(), block) << "every waiter gets the one loaded block";
  }
}

TEST(BlockCacheTest, FailResolvesEveryWaiterAndTheBlockBecomesAbsent) {
  BlockCache cache(1000);
  BlockCache::Acquired claim = cache.Acquire(Key(1));
  BlockCache::Acquired waiter = cache.Acquire(Key(1));
  ASSERT_TRUE(claim.claimed);
  ASSERT_FALSE(waiter.claimed);

  cache.Fail(Key(1), Status(ErrorCode::kTransport, "connection reset"));
  for (const BlockCache::Acquired* acquired : {&claim, &waiter}) {
    ASSERT_TRUE(IsReady(acquired->pending));
    const BlockResult& result = acquired->pending.get();
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), ErrorCode::kTransport);
  }
  EXPECT_FALSE(IsCached(cache, Key(1)));
  EXPECT_EQ(cache.stats().loading_blocks, 0u);
  EXPECT_EQ(cache.stats().cached_blocks, 0u);

  // Nothing of the failure sticks: the next reader claims a fresh load.
  BlockCache::Acquired again = cache.Acquire(Key(1));
  EXPECT_TRUE(again.claimed);
  ASSERT_TRUE(again.pending.valid());
  EXPECT_FALSE(IsReady(again.pending));
  cache.Fulfill(Key(1), MakeBlock(5, 2));
  ASSERT_TRUE(again.pending.get().ok());
  EXPECT_TRUE(IsCached(cache, Key(1)));
}

TEST(BlockCacheTest, InsertBeyondCapacityEvictsTheLeastRecentlyUsed) {
  BlockCache cache(300);
  Load(cache, Key(0), 100);
  Load(cache, Key(1), 100);
  Load(cache, Key(2), 100);
  EXPECT_EQ(cache.stats().evictions, 0u);

  Load(cache, Key(3), 100);
  EXPECT_FALSE(IsCached(cache, Key(0)));
  EXPECT_TRUE(IsCached(cache, Key(1)));
  EXPECT_TRUE(IsCached(cache, Key(2)));
  EXPECT_TRUE(IsCached(cache, Key(3)));

  Load(cache, Key(4), 100);
  EXPECT_FALSE(IsCached(cache, Key(1)));
  EXPECT_TRUE(IsCached(cache, Key(2)));

  const BlockCacheStats stats = cache.stats();
  EXPECT_EQ(stats.evictions, 2u);
  EXPECT_EQ(stats.cached_blocks, 3u);
  EXPECT_EQ(stats.cached_bytes, 300u);
}

TEST(BlockCacheTest, AcquireHitMakesABlockMostRecentlyUsed) {
  BlockCache cache(300);
  Load(cache, Key(0), 100);
  Load(cache, Key(1), 100);
  Load(cache, Key(2), 100);
  ASSERT_NE(cache.Acquire(Key(0)).block, nullptr);  // 0 is now the most recently used

  Load(cache, Key(3), 100);
  EXPECT_TRUE(IsCached(cache, Key(0)));
  EXPECT_FALSE(IsCached(cache, Key(1)));
  Load(cache, Key(4), 100);
  EXPECT_TRUE(IsCached(cache, Key(0)));
  EXPECT_FALSE(IsCached(cache, Key(2)));
  Load(cache, Key(5), 100);
  EXPECT_FALSE(IsCached(cache, Key(0)));
}

TEST(BlockCacheTest, PeekDoesNotTouchRecency) {
  BlockCache cache(300);
  Load(cache, Key(0), 100);
  Load(cache, Key(1), 100);
  Load(cache, Key(2), 100);
  ASSERT_NE(cache.Peek(Key(0)), nullptr);

  Load(cache, Key(3), 100);
  EXPECT_FALSE(IsCached(cache, Key(0))) << "Peek must not refresh a block";
  EXPECT_TRUE(IsCached(cache, Key(1)));
}

TEST(BlockCacheTest, TryClaimOfACachedBlockFailsAndDoesNotTouchRecency) {
  BlockCache cache(300);
  Load(cache, Key(0), 100);
  Load(cache, Key(1), 100);
  Load(cache, Key(2), 100);
  EXPECT_FALSE(cache.TryClaim(Key(0)));

  Load(cache, Key(3), 100);
  EXPECT_FALSE(IsCached(cache, Key(0))) << "TryClaim must not refresh a block";
  EXPECT_TRUE(IsCached(cache, Key(1)));
}

TEST(BlockCacheTest, EvictsAsManyBlocksAsTheBudgetNeeds) {
  BlockCache cache(1000);
  Load(cache, Key(0), 400);
  Load(cache, Key(1), 400);
  Load(cache, Key(2), 300);  // 1100 > 1000: block 0 goes
  EXPECT_FALSE(IsCached(cache, Key(0)));
  EXPECT_EQ(cache.stats().cached_bytes, 700u);

  Load(cache, Key(3), 900);  // needs both others gone
  EXPECT_FALSE(IsCached(cache, Key(1)));
  EXPECT_FALSE(IsCached(cache, Key(2)));
  EXPECT_TRUE(IsCached(cache, Key(3)));
  const BlockCacheStats stats = cache.stats();
  EXPECT_EQ(stats.cached_bytes, 900u);
  EXPECT_EQ(stats.cached_blocks, 1u);
  EXPECT_EQ(stats.evictions, 3u);
}

TEST(BlockCacheTest, FillingTheBudgetExactlyEvictsNothing) {
  BlockCache cache(1000);
  for (uint64_t i = 0; i < 4; ++i) Load(cache, Key(i), 250);
  const BlockCacheStats stats = cache.stats();
  EXPECT_EQ(stats.evictions, 0u);
  EXPECT_EQ(stats.cached_blocks, 4u);
  EXPECT_EQ(stats.cached_bytes, 1000u);
}

TEST(BlockCacheTest, BlockOfTheWholeBudgetIsCached) {
  BlockCache cache(1000);
  Load(cache, Key(0), 500);
  Load(cache, Key(1), 1000);
  EXPECT_FALSE(IsCached(cache, Key(0)));
  EXPECT_TRUE(IsCached(cache, Key(1)));
  EXPECT_EQ(cache.stats().cached_bytes, 1000u);
}

TEST(BlockCacheTest, BlockLargerThanTheBudgetIsDeliveredButNotCached) {
  BlockCache cache(300);
  Load(cache, Key(0), 100);
  Load(cache, Key(1), 100);
  BlockCache::Acquired claim = cache.Acquire(Key(9));
  BlockCache::Acquired waiter = cache.Acquire(Key(9));
  ASSERT_TRUE(claim.claimed);

  const BlockPtr big = MakeBlock(301, 9);
  cache.Fulfill(Key(9), big);
  for (const BlockCache::Acquired* acquired : {&claim, &waiter}) {
    ASSERT_TRUE(IsReady(acquired->pending));
    const BlockResult& result = acquired->pending.get();
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result.value(), big);
  }
  EXPECT_FALSE(IsCached(cache, Key(9)));
  // Nothing was evicted to make room for a block that was never going to fit.
  EXPECT_TRUE(IsCached(cache, Key(0)));
  EXPECT_TRUE(IsCached(cache, Key(1)));
  const BlockCacheStats stats = cache.stats();
  EXPECT_EQ(stats.evictions, 0u);
  EXPECT_EQ(stats.cached_bytes, 200u);
  EXPECT_EQ(stats.loading_blocks, 0u);
  // And it is absent, not stuck loading: the next reader claims it.
  BlockCache::Acquired again = cache.Acquire(Key(9));
  EXPECT_TRUE(again.claimed);
  cache.Fail(Key(9), Status(ErrorCode::kInternal, "test done"));
}

TEST(BlockCacheTest, HeldBlockStaysValidAfterEviction) {
  BlockCache cache(200);
  Load(cache, Key(0), 100, 0xA5);
  BlockPtr held = cache.Acquire(Key(0)).block;
  ASSERT_NE(held, nullptr);
  // A waiter's future pins the block it resolved to, too.
  BlockCache::Acquired waiter_claim = cache.Acquire(Key(1));
  ASSERT_TRUE(waiter_claim.claimed);
  cache.Fulfill(Key(1), MakeBlock(100, 0x5A));

  Load(cache, Key(2), 200);  // evicts both
  ASSERT_FALSE(IsCached(cache, Key(0)));
  ASSERT_FALSE(IsCached(cache, Key(1)));
  EXPECT_EQ(held->size(), 100u);
  EXPECT_TRUE(AllBytesAre(*held, 0xA5));
  const BlockResult& from_future = waiter_claim.pending.get();
  ASSERT_TRUE(from_future.ok());
  EXPECT_TRUE(AllBytesAre(*from_future.value(), 0x5A));
}

TEST(BlockCacheTest, TryClaimClaimsOnlyAbsentBlocks) {
  BlockCache cache(1000);
  EXPECT_TRUE(cache.TryClaim(Key(0)));
  EXPECT_EQ(cache.stats().loading_blocks, 1u);
  EXPECT_FALSE(cache.TryClaim(Key(0))) << "already loading";

  // A reader arriving meanwhile waits for the prefetcher's load instead of claiming its own.
  BlockCache::Acquired reader = cache.Acquire(Key(0));
  EXPECT_FALSE(reader.claimed);
  ASSERT_TRUE(reader.pending.valid());
  const BlockPtr block = MakeBlock(50, 3);
  cache.Fulfill(Key(0), block);
  ASSERT_TRUE(IsReady(reader.pending));
  EXPECT_EQ(reader.pending.get().value(), block);

  EXPECT_FALSE(cache.TryClaim(Key(0))) << "cached";
  EXPECT_TRUE(cache.TryClaim(Key(1)));
  cache.Fail(Key(1), Status(ErrorCode::kTransport, "reset"));
  EXPECT_TRUE(cache.TryClaim(Key(1))) << "a failed load leaves the block absent";
  cache.Fail(Key(1), Status(ErrorCode::kInternal, "test done"));
}

TEST(BlockCacheTest, StatsCountOnlyAcquire) {
  BlockCache cache(200);
  Load(cache, Key(0), 100);             // miss
  ASSERT_TRUE(cache.TryClaim(Key(1)));  // neither
  cache.Fulfill(Key(1), MakeBlock(100, 0));
  (void)cache.Peek(Key(0));              // neither
  (void)cache.Peek(Key(7));              // neither
  EXPECT_FALSE(cache.TryClaim(Key(0)));  // neither
  (void)cache.Acquire(Key(0));           // hit
  (void)cache.Acquire(Key(1));           // hit
  Load(cache, Key(2), 100);              // miss, evicts one

  const BlockCacheStats stats = cache.stats();
  EXPECT_EQ(stats.hits, 2u);
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.evictions, 1u);
  EXPECT_EQ(stats.cached_blocks, 2u);
  EXPECT_EQ(stats.cached_bytes, 200u);
  EXPECT_EQ(stats.loading_blocks, 0u);
  EXPECT_EQ(cache.capacity_bytes(), 200u);
}

TEST(BlockCacheTest, FileVersionAndIndexAllMakeTheKey) {
  BlockCache cache(1000);
  const BlockPtr original = Load(cache, Key(5, /*file=*/2, /*version=*/0), 10, 1);
  // Another block size cuts the same version differently: its block 5 holds other bytes.
  const FileKey file = File(2, 0);
  const BlockKey other_block_size{
      .file = std::make_shared<const FileKey>(file.url(), file.size(), file.validator(), 128 << 10),
      .index = 5};
  for (const BlockKey& other :
       {Key(5, 3, 0), Key(5, 2, 1), Key(4, 2, 0), Key(6, 2, 0), other_block_size}) {
    SCOPED_TRACE(::testing::Message() << other.file->ToString() << " index " << other.index);
    EXPECT_EQ(cache.Peek(other), nullptr);
    BlockCache::Acquired acquired = cache.Acquire(other);
    EXPECT_TRUE(acquired.claimed);
    cache.Fulfill(other, MakeBlock(10, 2));
  }
  EXPECT_EQ(cache.Peek(Key(5, 2, 0)), original);
  EXPECT_EQ(cache.stats().cached_blocks, 6u);
}

TEST(BlockCacheTest, ConcurrentAcquiresOfOneKeyClaimOnce) {
  constexpr int kThreads = 8;
  constexpr uint64_t kRounds = 50;
  BlockCache cache(1 << 20);
  for (uint64_t round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    const BlockKey key = Key(round);
    std::atomic<int> claims{0};
    std::vector<BlockPtr> got(kThreads);
    std::vector<BlockPtr> loaded(kThreads);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        BlockCache::Acquired acquired = cache.Acquire(key);
        if (acquired.claimed) {
          ++claims;
          loaded[static_cast<size_t>(t)] = MakeBlock(64, static_cast<uint8_t>(round));
          cache.Fulfill(key, loaded[static_cast<size_t>(t)]);
        }
        if (acquired.block) {
          got[static_cast<size_t>(t)] = acquired.block;
        } else {
          const BlockResult& result = acquired.pending.get();
          if (result.ok()) got[static_cast<size_t>(t)] = result.value();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    ASSERT_EQ(claims.load(), 1);
    const BlockPtr the_block =
        *std::ranges::find_if(loaded, [](const BlockPtr& b) { return b != nullptr; });
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(got[static_cast<size_t>(t)], the_block) << t;
  }
  EXPECT_EQ(cache.stats().loading_blocks, 0u);
}

TEST(BlockCacheTest, ConcurrentMixedUseKeepsTheBudgetAndTheContent) {
  constexpr int kThreads = 8;
  constexpr int kOps = 2000;
  constexpr uint64_t kKeys = 40;
  constexpr size_t kBlockBytes = 100;
  BlockCache cache(10 * kBlockBytes);  // a quarter of the keys: constant eviction
  std::vector<int> bad(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int& errors = bad[static_cast<size_t>(t)];
      uint64_t state = static_cast<uint64_t>(t) * 7919 + 1;
      for (int i = 0; i < kOps; ++i) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        const uint64_t index = (state >> 33) % kKeys;
        const BlockKey key = Key(index);
        const auto fill = static_cast<uint8_t>(index);
        if ((state >> 20) % 5 == 0) {
          // The prefetcher's path.
          if (cache.TryClaim(key)) cache.Fulfill(key, MakeBlock(kBlockBytes, fill));
          continue;
        }
        BlockCache::Acquired acquired = cache.Acquire(key);
        if (acquired.claimed) {
          // Some loads fail; their waiters must see the error, then the key is free again.
          if ((state >> 40) % 7 == 0) {
            cache.Fail(key, Status(ErrorCode::kTransport, "scripted"));
          } else {
            cache.Fulfill(key, MakeBlock(kBlockBytes, fill));
          }
        }
        BlockPtr block = acquired.block;
        if (!block) {
          const BlockResult& result = acquired.pending.get();
          if (!result.ok()) {
            if (result.status().code() != ErrorCode::kTransport) ++errors;
            continue;
          }
          block = result.value();
        }
        if (block->size() != kBlockBytes || !AllBytesAre(*block, fill)) ++errors;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(bad[static_cast<size_t>(t)], 0) << t;
  const BlockCacheStats stats = cache.stats();
  EXPECT_LE(stats.cached_bytes, cache.capacity_bytes());
  EXPECT_EQ(stats.cached_bytes, stats.cached_blocks * kBlockBytes);
  EXPECT_EQ(stats.loading_blocks, 0u);
  EXPECT_GT(stats.evictions, 0u);
}

TEST(BlockCacheTest, RetireDropsEveryBlockOfTheFileAndOnlyThose) {
  BlockCache cache(1000);
  Load(cache, Key(0, /*file=*/2), 100);
  Load(cache, Key(1, /*file=*/2), 100);
  Load(cache, Key(0, /*file=*/3), 100);
  EXPECT_EQ(cache.Retire(File(2)), 2u);
  EXPECT_FALSE(IsCached(cache, Key(0, 2)));
  EXPECT_FALSE(IsCached(cache, Key(1, 2)));
  EXPECT_TRUE(IsCached(cache, Key(0, 3)));
  const BlockCacheStats stats = cache.stats();
  EXPECT_EQ(stats.cached_bytes, 100u);
  EXPECT_EQ(stats.cached_blocks, 1u);
  EXPECT_EQ(stats.retired, 2u);
  EXPECT_EQ(stats.evictions, 0u);
}

TEST(BlockCacheTest, LoadOfARetiredFileReachesItsWaitersButIsNotCached) {
  BlockCache cache(1000);
  BlockCache::Acquired claimed = cache.Acquire(Key(0));
  ASSERT_TRUE(claimed.claimed);
  BlockCache::Acquired waiter = cache.Acquire(Key(0));
  cache.Retire(File(kFile));  // while the load is in flight
  cache.Fulfill(Key(0), MakeBlock(100, 7));
  ASSERT_TRUE(IsReady(waiter.pending));
  ASSERT_TRUE(waiter.pending.get().ok());
  EXPECT_TRUE(AllBytesAre(*waiter.pending.get().value(), 7));
  EXPECT_FALSE(IsCached(cache, Key(0)));
  EXPECT_EQ(cache.stats().cached_bytes, 0u);
  // And the next reader of the retired file claims again rather than finding it.
  EXPECT_TRUE(cache.Acquire(Key(0)).claimed);
  cache.Fail(Key(0), Status(ErrorCode::kRemoteChanged, "test"));
}

TEST(BlockCacheTest, LoadsOfARetiredFileClaimedAfterTheRetirementAreCached) {
  // A remote that goes back to a version it had (A, then B, then A again) makes A's blocks
  // valid again: only loads that were in flight when A was retired stay uncached.
  BlockCache cache(1000);
  Load(cache, Key(0), 100);
  EXPECT_EQ(cache.Retire(File(kFile)), 1u);
  Load(cache, Key(0), 100, 3);
  ASSERT_TRUE(IsCached(cache, Key(0)));
  EXPECT_TRUE(AllBytesAre(*cache.Peek(Key(0)), 3));
}

TEST(BlockCacheTest, CachedBytesOfCountsEachFileThroughLoadsEvictionAndRetirement) {
  BlockCache cache(300);
  EXPECT_EQ(cache.CachedBytesOf(File(2)), 0u);
  Load(cache, Key(0, /*file=*/2), 100);
  Load(cache, Key(1, /*file=*/2), 50);
  Load(cache, Key(0, /*file=*/3), 100);
  EXPECT_EQ(cache.CachedBytesOf(File(2)), 150u);
  EXPECT_EQ(cache.CachedBytesOf(File(3)), 100u);
  // A block still loading is not cached yet.
  ASSERT_TRUE(cache.Acquire(Key(2, 2)).claimed);
  EXPECT_EQ(cache.CachedBytesOf(File(2)), 150u);
  // 100 more bytes: the least recently used block, file 2's first, makes room.
  cache.Fulfill(Key(2, 2), MakeBlock(100, 1));
  EXPECT_EQ(cache.CachedBytesOf(File(2)), 150u);
  EXPECT_EQ(cache.CachedBytesOf(File(3)), 100u);
  EXPECT_EQ(cache.Retire(File(2)), 2u);
  EXPECT_EQ(cache.CachedBytesOf(File(2)), 0u);
  EXPECT_EQ(cache.CachedBytesOf(File(3)), 100u);
  EXPECT_EQ(cache.stats().cached_bytes, 100u);
}

}  // namespace
}  // namespace rangefs
