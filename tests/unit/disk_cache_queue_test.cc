// The writer's queue: offers beyond its byte bound are dropped, and the bound counts every block
// the writer holds, waiting or being written, until it is written or dropped.
#include <gtest/gtest.h>

#include <cstdint>

#include "rangefs/disk_cache.h"
#include "unit/disk_cache_fixture.h"

namespace rangefs {
namespace {

using namespace disk_testing;  // NOLINT(build/namespaces): the fixture's helpers

TEST_F(DiskCacheTest, OffersBeyondTheQueuesBytesAreDroppedWhileTheWriterIsBusy) {
  tuning_.queue_bytes = 3 * kBlockSize;
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  files_->HoldWrites();
  cache->Offer(key, 0, MakeBlock(*key, 0));
  files_->WaitForHeldWrite();  // the writer took block 0 and is stuck writing it
  for (uint64_t i = 1; i <= 4; ++i) cache->Offer(key, i, MakeBlock(*key, i));
  // Block 0, being written, still counts: with 1 and 2 waiting the writer holds 3 blocks.
  EXPECT_EQ(cache->stats().dropped, 2u) << "blocks 3 and 4 go beyond the queue's 3 blocks";
  files_->ReleaseWrites();
  cache->Flush();
  EXPECT_EQ(cache->stats().writes, 3u);
  EXPECT_TRUE(cache->Contains(*key, 2));
  EXPECT_FALSE(cache->Contains(*key, 3));
  EXPECT_FALSE(cache->Contains(*key, 4));
}

TEST_F(DiskCacheTest, EachBlockOfABatchLeavesTheQueuesBoundOnceWritten) {
  tuning_.queue_bytes = 3 * kBlockSize;
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  const int before = files_->write_attempts();  // Open wrote the format file
  files_->HoldWrites();
  cache->Offer(key, 0, MakeBlock(*key, 0));
  files_->WaitForHeldWrite(before + 1);
  cache->Offer(key, 1, MakeBlock(*key, 1));
  cache->Offer(key, 2, MakeBlock(*key, 2));
  EXPECT_EQ(cache->stats().dropped, 0u);
  // Block 0 is written; the writer takes 1 and 2 as one batch and is stuck writing 1.
  files_->LetWritesThrough(1);
  files_->WaitForHeldWrite(before + 2);
  cache->Offer(key, 3, MakeBlock(*key, 3));  // 1, 2 and 3: the bound
  cache->Offer(key, 4, MakeBlock(*key, 4));
  EXPECT_EQ(cache->stats().dropped, 1u) << "block 4 goes beyond the bound";
  // Block 1 is written: it no longer counts, while 2 of its batch is being written.
  files_->LetWritesThrough(1);
  files_->WaitForHeldWrite(before + 3);
  cache->Offer(key, 5, MakeBlock(*key, 5));  // 2, 3 and 5
  EXPECT_EQ(cache->stats().dropped, 1u) << "block 1 was written, yet still counted";
  cache->Offer(key, 6, MakeBlock(*key, 6));
  EXPECT_EQ(cache->stats().dropped, 2u);
  files_->ReleaseWrites();
  cache->Flush();
  EXPECT_EQ(cache->stats().writes, 5u);
  for (uint64_t i : {0u, 1u, 2u, 3u, 5u}) EXPECT_TRUE(cache->Contains(*key, i)) << i;
  EXPECT_FALSE(cache->Contains(*key, 4));
  EXPECT_FALSE(cache->Contains(*key, 6));
}

TEST_F(DiskCacheTest, TheQueueTakesOffersAgainOnceItsBlocksAreWritten) {
  tuning_.queue_bytes = 2 * kBlockSize;
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  for (uint64_t round = 0; round < 3; ++round) {
    files_->HoldWrites();
    cache->Offer(key, 2 * round, MakeBlock(*key, 2 * round));
    cache->Offer(key, 2 * round + 1, MakeBlock(*key, 2 * round + 1));
    files_->ReleaseWrites();
    cache->Flush();
  }
  EXPECT_EQ(cache->stats().dropped, 0u) << "written blocks are still counted against the bound";
  EXPECT_EQ(cache->stats().writes, 6u);
}

}  // namespace
}  // namespace rangefs
