// DiskCache::LoadPart: the chunks of a block that cover a small read, read and verified alone.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "disk/block_file.h"
#include "fakes/log_capture.h"
#include "rangefs/disk_cache.h"
#include "unit/disk_cache_fixture.h"

namespace rangefs {
namespace {

using namespace disk_testing;  // NOLINT(build/namespaces): the fixture's helpers

// Blocks of four chunks.
constexpr uint64_t kBigBlock = 4 * disk::kChunkSize;

FileKeyPtr BigKey(uint64_t size = 10 * kBigBlock) {
  return std::make_shared<const FileKey>("https://h/big", size, "etag \"b1\"", kBigBlock);
}

// Whether `part` holds bytes [from, to) of `block` where they belong.
bool PartMatches(const BlockStore::Part& part, const Block& block, uint64_t from, uint64_t to) {
  if (part.bytes == nullptr || part.offset > from || part.offset + part.bytes->size() < to) {
    return false;
  }
  return std::memcmp(part.bytes->bytes().data() + (from - part.offset), block.bytes().data() + from,
                     static_cast<size_t>(to - from)) == 0;
}

class DiskCachePartTest : public DiskCacheTest {
 protected:
  void SetUp() override {
    cache_ = Open(Options());
    ASSERT_NE(cache_, nullptr);
    block_ = MakeBlock(*key_, 2, kBigBlock);
    ASSERT_TRUE(cache_->Store(*key_, 2, *block_).ok());
  }

  const FileKeyPtr key_ = BigKey();
  std::unique_ptr<DiskCache> cache_;
  BlockPtr block_;
};

TEST_F(DiskCachePartTest, ASmallReadGetsOnlyTheChunkAroundIt) {
  const uint64_t from = disk::kChunkSize + 100;
  const BlockStore::Part part = cache_->LoadPart(*key_, 2, kBigBlock, from, from + 4096);
  ASSERT_NE(part.bytes, nullptr);
  EXPECT_EQ(part.offset, disk::kChunkSize);
  EXPECT_EQ(part.bytes->size(), disk::kChunkSize);
  EXPECT_TRUE(PartMatches(part, *block_, from, from + 4096));
  EXPECT_EQ(cache_->stats().hits, 1u);
}

TEST_F(DiskCachePartTest, AReadAcrossChunksGetsThemAll) {
  const uint64_t from = disk::kChunkSize - 10;
  const uint64_t to = 3 * disk::kChunkSize + 10;
  const BlockStore::Part part = cache_->LoadPart(*key_, 2, kBigBlock, from, to);
  ASSERT_NE(part.bytes, nullptr);
  EXPECT_EQ(part.offset, 0u);
  EXPECT_EQ(part.bytes->size(), kBigBlock);
  EXPECT_TRUE(PartMatches(part, *block_, from, to));
}

TEST_F(DiskCachePartTest, DamageOutsideThePartDoesNotStopItDamageInsideIsAMissAndRemoved) {
  fakes::LogCapture log;
  const std::string path = PathOf(CacheDir(), *key_, 2);
  FlipByte(path, -10, std::ios::end);  // in the last chunk
  const BlockStore::Part first = cache_->LoadPart(*key_, 2, kBigBlock, 0, 100);
  EXPECT_TRUE(PartMatches(first, *block_, 0, 100)) << "the first chunk is intact";
  EXPECT_EQ(cache_->LoadPart(*key_, 2, kBigBlock, kBigBlock - 100, kBigBlock).bytes, nullptr);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(cache_->stats().errors, 1u);
  EXPECT_EQ(log.Count(spdlog::level::warn, "failed its checksum; fetching it again (bad data"), 1u);
}

TEST_F(DiskCachePartTest, ATruncatedBlockServesNoPart) {
  std::filesystem::resize_file(PathOf(CacheDir(), *key_, 2), 100);
  EXPECT_EQ(cache_->LoadPart(*key_, 2, kBigBlock, 0, 10).bytes, nullptr);
  EXPECT_EQ(cache_->stats().errors, 1u);
}

TEST_F(DiskCachePartTest, APartNotServedIsNoMissTheWholeBlockLoadThatFollowsCountsIt) {
  // The reader's next step after a part the cache lacks: claim the block and Load it whole.
  EXPECT_EQ(cache_->LoadPart(*key_, 5, kBigBlock, 0, 10).bytes, nullptr);
  EXPECT_EQ(cache_->stats().misses, 0u);
  EXPECT_EQ(cache_->Load(*key_, 5, kBigBlock), nullptr);
  EXPECT_EQ(cache_->stats().misses, 1u);
  EXPECT_EQ(cache_->stats().hits, 0u);
}

TEST_F(DiskCachePartTest, ABlockOfTheOlderFormatIsFetchedAgainWithoutAnError) {
  fakes::LogCapture log;
  const std::string path = PathOf(CacheDir(), *key_, 2);
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(8);
    file.put(char{1});  // format version 1: one checksum for the whole block
  }
  EXPECT_EQ(cache_->Load(*key_, 2, kBigBlock), nullptr);
  EXPECT_FALSE(std::filesystem::exists(path)) << "removed, to be written again in this format";
  EXPECT_EQ(cache_->stats().errors, 0u);
  EXPECT_EQ(log.Count(spdlog::level::info, "written by an older rangefs are fetched again"), 1u);
  EXPECT_EQ(log.Count(spdlog::level::warn, ""), 0u);
}

TEST_F(DiskCachePartTest, StoredBytesCountTheShortLastBlockExactly) {
  const FileKeyPtr key = BigKey(2 * kBigBlock + 5000);
  ASSERT_TRUE(cache_->Store(*key, 0, *MakeBlock(*key, 0, kBigBlock)).ok());
  EXPECT_EQ(cache_->StoredBytesOf(*key), kBigBlock);
  ASSERT_TRUE(cache_->Store(*key, 2, *MakeBlock(*key, 2, 5000)).ok());
  EXPECT_EQ(cache_->StoredBytesOf(*key), kBigBlock + 5000);
  ASSERT_TRUE(cache_->Store(*key, 1, *MakeBlock(*key, 1, kBigBlock)).ok());
  EXPECT_EQ(cache_->StoredBytesOf(*key), 2 * kBigBlock + 5000);
}

// Touch is how a block read from memory tells the disk cache it is still in use.
TEST_F(DiskCacheTest, ATouchKeepsABlockReadFromMemoryOutOfEviction) {
  auto cache = Open(Options(3 * FileSize()));
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr a = Key('a');
  const FileKeyPtr b = Key('b');
  ASSERT_TRUE(cache->Store(*a, 0, *MakeBlock(*a, 0)).ok());
  clock_.AdvanceBy(std::chrono::seconds(1));
  ASSERT_TRUE(cache->Store(*b, 0, *MakeBlock(*b, 0)).ok());
  clock_.AdvanceBy(std::chrono::seconds(1));
  ASSERT_TRUE(cache->Store(*b, 1, *MakeBlock(*b, 1)).ok());
  clock_.AdvanceBy(std::chrono::seconds(1));
  cache->Touch(*a, 0);  // a/0, the oldest, read from memory: b/0 is now the least recently used
  cache->Touch(*a, 7);  // a block the cache does not hold: nothing
  cache->Flush();
  ASSERT_TRUE(cache->Store(*b, 2, *MakeBlock(*b, 2)).ok());
  EXPECT_TRUE(cache->Contains(*a, 0));
  EXPECT_FALSE(cache->Contains(*b, 0));
  EXPECT_EQ(cache->stats().evictions, 1u);
}

}  // namespace
}  // namespace rangefs
