// BlockCache's answers for the block store behind it: Holds (may a reader go to the store
// instead?) and report_use (should the store hear of a hit?).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "rangefs/block_cache.h"

namespace rangefs {
namespace {

BlockKey Key(uint64_t index) {
  return BlockKey{
      .file = std::make_shared<const FileKey>("https://h/f", 1 << 20, "etag \"1\"", 64 << 10),
      .index = index};
}

void Cache(BlockCache& cache, uint64_t index) {
  ASSERT_TRUE(cache.Acquire(Key(index)).claimed);
  cache.Fulfill(Key(index), std::make_shared<Block>(100));
}

TEST(BlockCacheUseTest, HoldsWhatIsCachedOrLoadingAndCountsNothing) {
  BlockCache cache(1000);
  EXPECT_FALSE(cache.Holds(Key(0)));
  ASSERT_TRUE(cache.Acquire(Key(1)).claimed);
  EXPECT_TRUE(cache.Holds(Key(1)));
  cache.Fulfill(Key(1), std::make_shared<Block>(100));
  EXPECT_TRUE(cache.Holds(Key(1)));
  EXPECT_EQ(cache.stats().hits, 0u);
  EXPECT_EQ(cache.stats().misses, 1u) << "only the Acquire counted";
}

TEST(BlockCacheUseTest, HitsAreNotReportedWithoutAnInterval) {
  BlockCache cache(1000);
  Cache(cache, 0);
  EXPECT_FALSE(cache.Acquire(Key(0)).report_use);
}

TEST(BlockCacheUseTest, AHitIsReportedOnceTheBlockHasBeenCachedForTheInterval) {
  BlockCache cache(1000);
  cache.SetUseReportInterval(std::chrono::hours(1));
  Cache(cache, 0);
  EXPECT_FALSE(cache.Acquire(Key(0)).report_use) << "cached just now";
  cache.SetUseReportInterval(std::chrono::steady_clock::duration::zero());
  EXPECT_TRUE(cache.Acquire(Key(0)).report_use);
  // Reporting starts the interval again.
  cache.SetUseReportInterval(std::chrono::hours(1));
  EXPECT_FALSE(cache.Acquire(Key(0)).report_use);
}

TEST(BlockCacheUseTest, MissesAreNeverReported) {
  BlockCache cache(1000);
  cache.SetUseReportInterval(std::chrono::steady_clock::duration::zero());
  const BlockCache::Acquired miss = cache.Acquire(Key(3));
  EXPECT_TRUE(miss.claimed);
  EXPECT_FALSE(miss.report_use);
  cache.Fail(Key(3), Status(ErrorCode::kTransport, "gone"));
}

}  // namespace
}  // namespace rangefs
