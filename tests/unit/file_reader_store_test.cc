// FileReader with a block store (the disk cache's seam): a read within one block that memory
// lacks is served from the store's part of that block, without a request and without loading
// the whole block into memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "fakes/eventually.h"
#include "fakes/memory_block_store.h"
#include "fakes/memory_range_source.h"
#include "fakes/version_registry.h"
#include "rangefs/block_cache.h"
#include "rangefs/block_fetcher.h"
#include "rangefs/file_reader.h"
#include "rangefs/file_version.h"
#include "rangefs/prefetcher.h"
#include "rangefs/readahead_policy.h"

namespace rangefs {
namespace {

constexpr uint64_t kBlock = 16 * 1024;
constexpr uint64_t kFileSize = 10 * kBlock;

class FileReaderStoreTest : public ::testing::Test {
 protected:
  FileReaderStoreTest() {
    fetcher_.SetStore(&store_);
    info_ = source_.AddSyntheticFile("https://h/db", kFileSize, 5);
    version_ = MakeFileVersion(info_, kBlock, 0);
  }
  ~FileReaderStoreTest() override { source_.DropAllPending(); }

  // Puts blocks [first, last] in the store with the source's bytes, as an earlier mount would.
  void Store(uint64_t first, uint64_t last) {
    for (uint64_t index = first; index <= last; ++index) {
      const uint64_t start = index * kBlock;
      const std::vector<std::byte> bytes =
          source_.Content(info_.url, ByteRange{start, std::min(start + kBlock, info_.size) - 1});
      auto block = std::make_shared<Block>(bytes.size());
      std::copy(bytes.begin(), bytes.end(), block->mutable_bytes().begin());
      store_.Put(*version_->key, index, block);
    }
  }

  FileReader& Open(const ReadaheadConfig& readahead) {
    SharedReadahead& shared = readaheads_.emplace_back(readahead);
    readers_.push_back(
        std::make_unique<FileReader>(fetcher_, prefetcher_, shared, versions_, version_));
    return *readers_.back();
  }

  // Reads and checks the bytes against the source's.
  void ExpectBytes(FileReader& reader, uint64_t offset, uint64_t size) {
    SCOPED_TRACE(::testing::Message() << "read " << size << " at " << offset);
    Result<ReadBuffer> read = reader.Read(offset, size);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    std::vector<std::byte> bytes(read->size());
    read->CopyTo(bytes);
    EXPECT_TRUE(bytes == source_.Content(info_.url, ByteRange{offset, offset + size - 1}));
  }

  static ReadaheadConfig NoReadahead() {
    return ReadaheadConfig{.initial_window = kBlock, .max_window = 0};
  }

  fakes::MemoryRangeSource source_;
  fakes::MemoryBlockStore store_;
  BlockCache cache_{1 << 20};
  BlockFetcher fetcher_{cache_, source_, kBlock};
  Prefetcher prefetcher_{fetcher_, /*connections=*/2, /*max_request_bytes=*/8 * kBlock,
                         /*max_ranges=*/16};
  fakes::FakeVersionRegistry versions_;
  RemoteFileInfo info_;
  FileVersionPtr version_;
  std::deque<SharedReadahead> readaheads_;
  std::vector<std::unique_ptr<FileReader>> readers_;
};

TEST_F(FileReaderStoreTest, ASmallReadOfAStoredBlockReadsOnlyItsPartAndNoRequest) {
  Store(0, 9);
  FileReader& reader = Open(NoReadahead());
  ExpectBytes(reader, 3 * kBlock + 5000, 4096);
  ExpectBytes(reader, 7 * kBlock + 100, 10);
  EXPECT_EQ(store_.part_loads(), 2u);
  EXPECT_EQ(store_.loads(), 0u) << "no whole block was loaded";
  EXPECT_EQ(source_.fetch_count(), 0u);
  // The blocks stay out of memory: the kernel's page cache keeps the pages read.
  EXPECT_EQ(cache_.stats().cached_blocks, 0u);
}

TEST_F(FileReaderStoreTest, TheLastShortBlockIsServedFromItsPart) {
  info_ = source_.AddSyntheticFile("https://h/short", 2 * kBlock + 3000, 6);
  version_ = MakeFileVersion(info_, kBlock, 0);
  Store(2, 2);
  FileReader& reader = Open(NoReadahead());
  ExpectBytes(reader, 2 * kBlock + 2000, 1000);
  EXPECT_EQ(store_.part_loads(), 1u);
  EXPECT_EQ(source_.fetch_count(), 0u);
}

TEST_F(FileReaderStoreTest, ABlockInMemoryIsServedFromMemory) {
  Store(0, 9);
  FileReader& reader = Open(NoReadahead());
  cache_.TryClaim(version_->KeyFor(4));
  auto block = store_.Load(*version_->key, 4, kBlock);
  ASSERT_NE(block, nullptr);
  cache_.Fulfill(version_->KeyFor(4), block);
  ExpectBytes(reader, 4 * kBlock + 10, 100);
  EXPECT_EQ(store_.part_loads(), 0u);
  EXPECT_EQ(cache_.stats().hits, 1u);
}

TEST_F(FileReaderStoreTest, ABlockTheStoreLacksIsFetchedWholeIntoMemory) {
  Store(0, 0);
  FileReader& reader = Open(NoReadahead());
  ExpectBytes(reader, 5 * kBlock + 10, 100);
  EXPECT_EQ(source_.fetch_count(), 1u);
  EXPECT_EQ(cache_.stats().cached_blocks, 1u);
}

TEST_F(FileReaderStoreTest, AReadAcrossTwoBlocksTakesTheWholeBlocks) {
  Store(0, 9);
  FileReader& reader = Open(NoReadahead());
  ExpectBytes(reader, 2 * kBlock - 100, 200);
  EXPECT_EQ(store_.part_loads(), 0u);
  EXPECT_EQ(source_.fetch_count(), 0u);
  EXPECT_EQ(cache_.stats().cached_blocks, 2u);
}

TEST_F(FileReaderStoreTest, ReadsServedFromTheStoreStillStartReadahead) {
  Store(0, 9);
  FileReader& reader = Open(ReadaheadConfig{.initial_window = 2 * kBlock,
                                            .max_window = 4 * kBlock,
                                            .reorder_slack = kBlock,
                                            .max_streams = 2});
  ExpectBytes(reader, 0, 4096);
  ExpectBytes(reader, 4096, 4096);
  // The second read continued a stream: its readahead brings whole blocks into memory (from
  // the store, on the fetcher's workers).
  EXPECT_TRUE(fakes::Eventually([&] { return cache_.stats().cached_blocks > 0; }));
  EXPECT_EQ(source_.fetch_count(), 0u);
}

TEST_F(FileReaderStoreTest, HitsInMemoryAreReportedToTheStoreWhenTheCacheAsks) {
  FileReader& reader = Open(NoReadahead());
  ExpectBytes(reader, 10, 100);  // fetched: now in memory
  ExpectBytes(reader, 200, 100);
  EXPECT_TRUE(store_.touches().empty()) << "no interval set: no reports";
  cache_.SetUseReportInterval(std::chrono::hours(1));
  ExpectBytes(reader, 300, 100);
  EXPECT_TRUE(store_.touches().empty()) << "cached for less than the interval";
  cache_.SetUseReportInterval(std::chrono::steady_clock::duration::zero());
  ExpectBytes(reader, 400, 100);
  const std::vector<std::pair<std::string, uint64_t>> want = {{version_->key->ToString(), 0}};
  EXPECT_EQ(store_.touches(), want);
}

}  // namespace
}  // namespace rangefs
