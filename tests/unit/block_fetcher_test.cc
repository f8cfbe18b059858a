#include "rangefs/block_fetcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fakes/eventually.h"
#include "fakes/memory_block_store.h"
#include "fakes/memory_range_source.h"
#include "fakes/printers.h"
#include "rangefs/block_cache.h"
#include "rangefs/file_version.h"

namespace rangefs {
namespace {

using fakes::FetchCall;
using fakes::MemoryRangeSource;

constexpr uint64_t kBlock = 4096;
constexpr uint64_t kGiB = uint64_t{1} << 30;

bool IsReady(const BlockFuture& future) {
  return future.valid() && future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

std::vector<std::byte> BytesOf(const Block& block) {
  return std::vector<std::byte>(block.bytes().begin(), block.bytes().end());
}

class BlockFetcherTest : public ::testing::Test {
 protected:
  FileVersionPtr AddFile(const std::string& url, uint64_t size, uint64_t seed,
                         uint64_t generation = 0) {
    return MakeFileVersion(source_.AddSyntheticFile(url, size, seed), kBlock, generation);
  }

  // The bytes block `index` of `version` must hold.
  std::vector<std::byte> Expected(const FileVersion& version, uint64_t index) const {
    const uint64_t first = index * kBlock;
    const uint64_t last = std::min(first + kBlock, version.info.size) - 1;
    return source_.Content(version.info.url, ByteRange{first, last});
  }

  // Claims blocks [first, last] the way readers do, keeping each claim's future.
  std::vector<BlockFuture> Claim(const FileVersion& version, uint64_t first, uint64_t last) {
    std::vector<BlockFuture> futures;
    for (uint64_t index = first; index <= last; ++index) {
      BlockCache::Acquired acquired = cache_.Acquire(version.KeyFor(index));
      EXPECT_TRUE(acquired.claimed) << "block " << index;
      futures.push_back(acquired.pending);
    }
    return futures;
  }

  // Checks that block `index` is cached with the right bytes.
  void ExpectCached(const FileVersion& version, uint64_t index) const {
    SCOPED_TRACE(::testing::Message() << "block " << index);
    const BlockPtr block = cache_.Peek(version.KeyFor(index));
    ASSERT_NE(block, nullptr) << "not cached";
    EXPECT_TRUE(BytesOf(*block) == Expected(version, index)) << "wrong bytes";
  }

  // Checks that `future` resolved to an error with `code` and that the block is absent again.
  void ExpectFailed(const FileVersion& version, uint64_t index, const BlockFuture& future,
                    ErrorCode code) const {
    SCOPED_TRACE(::testing::Message() << "block " << index);
    ASSERT_TRUE(IsReady(future)) << "waiter not woken";
    EXPECT_FALSE(future.get().ok());
    if (!future.get().ok()) {
      EXPECT_EQ(future.get().status().code(), code);
    }
    EXPECT_EQ(cache_.Peek(version.KeyFor(index)), nullptr);
  }

  void TearDown() override {
    // Fetches a test left pending fail their claims now; then no claim may be left.
    source_.DropAllPending();
    EXPECT_EQ(cache_.stats().loading_blocks, 0u) << "a claim outlived every request";
  }

  // Declared before the source: fetches the source still holds when the test ends fail their
  // claims into a cache that still exists.
  BlockCache cache_{1 << 20};
  MemoryRangeSource source_;
  BlockFetcher fetcher_{cache_, source_, kBlock};
};

TEST_F(BlockFetcherTest, BlockCountRoundsUp) {
  EXPECT_EQ(fetcher_.BlockCount(0), 0u);
  EXPECT_EQ(fetcher_.BlockCount(1), 1u);
  EXPECT_EQ(fetcher_.BlockCount(kBlock - 1), 1u);
  EXPECT_EQ(fetcher_.BlockCount(kBlock), 1u);
  EXPECT_EQ(fetcher_.BlockCount(kBlock + 1), 2u);
  EXPECT_EQ(fetcher_.BlockCount(5 * kGiB), 5 * kGiB / kBlock);
  EXPECT_EQ(fetcher_.BlockCount(5 * kGiB + 1), 5 * kGiB / kBlock + 1);
  EXPECT_EQ(fetcher_.block_size(), kBlock);
  EXPECT_EQ(&fetcher_.cache(), &cache_);
}

TEST_F(BlockFetcherTest, RunIsOneRequestForExactlyItsBytes) {
  const FileVersionPtr file = AddFile("https://h/f", 10000, 1);  // blocks of 4096, 4096, 1808
  std::vector<BlockFuture> futures = Claim(*file, 0, 2);
  fetcher_.FetchClaimed(file, 0, 2, FetchPriority::kDemand);

  EXPECT_EQ(source_.fetch_calls(),
            (std::vector<FetchCall>{{"https://h/f", ByteRange{0, 9999}, FetchPriority::kDemand}}));
  for (uint64_t index = 0; index < 3; ++index) {
    ExpectCached(*file, index);
    ASSERT_TRUE(IsReady(futures[index]));
    ASSERT_TRUE(futures[index].get().ok());
  }
  EXPECT_EQ(cache_.Peek(file->KeyFor(2))->size(), 1808u);
  EXPECT_EQ(cache_.stats().loading_blocks, 0u);
}

TEST_F(BlockFetcherTest, RunInTheMiddleOfTheFile) {
  const FileVersionPtr file = AddFile("https://h/f", 5 * kBlock + 100, 2);
  Claim(*file, 1, 3);
  fetcher_.FetchClaimed(file, 1, 3, FetchPriority::kPrefetch);
  EXPECT_EQ(source_.fetch_calls(),
            (std::vector<FetchCall>{
                {"https://h/f", ByteRange{kBlock, 4 * kBlock - 1}, FetchPriority::kPrefetch}}));
  for (uint64_t index = 1; index <= 3; ++index) ExpectCached(*file, index);
  EXPECT_EQ(cache_.Peek(file->KeyFor(0)), nullptr);
  EXPECT_EQ(cache_.Peek(file->KeyFor(4)), nullptr);
}

TEST_F(BlockFetcherTest, LastBlockIsClampedToTheEndOfTheFile) {
  const FileVersionPtr file = AddFile("https://h/f", 10000, 3);
  Claim(*file, 2, 2);
  fetcher_.FetchClaimed(file, 2, 2, FetchPriority::kDemand);
  EXPECT_EQ(source_.fetched_ranges(), (std::vector<ByteRange>{{2 * kBlock, 9999}}));
  ExpectCached(*file, 2);
}

TEST_F(BlockFetcherTest, BlocksAbove4GiB) {
  const FileVersionPtr file = AddFile("https://h/big", 5 * kGiB + 10, 4);
  const uint64_t first = 4 * kGiB / kBlock - 1;  // the block that ends at 4 GiB
  const uint64_t last = 5 * kGiB / kBlock;       // the 10-byte tail
  Claim(*file, first, first + 1);
  Claim(*file, last, last);
  fetcher_.FetchClaimed(file, first, first + 1, FetchPriority::kDemand);
  fetcher_.FetchClaimed(file, last, last, FetchPriority::kDemand);
  EXPECT_EQ(source_.fetched_ranges(),
            (std::vector<ByteRange>{{4 * kGiB - kBlock, 4 * kGiB + kBlock - 1},
                                    {5 * kGiB, 5 * kGiB + 9}}));
  ExpectCached(*file, first);
  ExpectCached(*file, first + 1);
  ExpectCached(*file, last);
  EXPECT_EQ(cache_.Peek(file->KeyFor(last))->size(), 10u);
}

TEST_F(BlockFetcherTest, BlockBoundariesInsideBodyPieces) {
  // Many blocks in one request, delivered in pieces of an odd size that never line up with
  // block boundaries.
  static_assert(MemoryRangeSource::kPieceBytes % kBlock != 0);
  const FileVersionPtr file = AddFile("https://h/f", 100 * kBlock - 1, 5);
  Claim(*file, 0, 99);
  fetcher_.FetchClaimed(file, 0, 99, FetchPriority::kDemand);
  EXPECT_EQ(source_.fetch_count(), 1u);
  for (uint64_t index = 0; index < 100; ++index) ExpectCached(*file, index);
}

TEST_F(BlockFetcherTest, EachBlockIsPublishedAsSoonAsItsBytesArrive) {
  source_.DeferAllFetches();
  const FileVersionPtr file = AddFile("https://h/f", 10000, 6);
  std::vector<BlockFuture> futures = Claim(*file, 0, 2);
  fetcher_.FetchClaimed(file, 0, 2, FetchPriority::kDemand);
  ASSERT_EQ(source_.pending_count(), 1u);

  ASSERT_TRUE(source_.DeliverPending(0, kBlock - 1));
  EXPECT_FALSE(IsReady(futures[0])) << "block 0 is one byte short";
  EXPECT_EQ(cache_.Peek(file->KeyFor(0)), nullptr);

  ASSERT_TRUE(source_.DeliverPending(0, 1));
  ASSERT_TRUE(IsReady(futures[0])) << "block 0 is complete: its waiter must not wait for more";
  ASSERT_TRUE(futures[0].get().ok());
  EXPECT_TRUE(BytesOf(*futures[0].get().value()) == Expected(*file, 0));
  ExpectCached(*file, 0);
  EXPECT_FALSE(IsReady(futures[1]));
  EXPECT_FALSE(IsReady(futures[2]));
  EXPECT_EQ(cache_.stats().loading_blocks, 2u);

  ASSERT_TRUE(source_.DeliverPending(0, kBlock + 100));
  ASSERT_TRUE(IsReady(futures[1]));
  ExpectCached(*file, 1);
  EXPECT_FALSE(IsReady(futures[2]));

  ASSERT_TRUE(source_.CompletePending(0));
  ASSERT_TRUE(IsReady(futures[2]));
  ExpectCached(*file, 2);
  EXPECT_EQ(cache_.stats().loading_blocks, 0u);
}

TEST_F(BlockFetcherTest, FailureMidwayKeepsCompleteBlocksAndFailsTheRest) {
  const FileVersionPtr file = AddFile("https://h/f", 10000, 7);
  std::vector<BlockFuture> futures = Claim(*file, 0, 2);
  source_.FailNextFetches(1, Status(ErrorCode::kTransport, "connection reset"), kBlock + 100);
  fetcher_.FetchClaimed(file, 0, 2, FetchPriority::kDemand);

  ExpectCached(*file, 0);
  ASSERT_TRUE(IsReady(futures[0]));
  EXPECT_TRUE(futures[0].get().ok());
  ExpectFailed(*file, 1, futures[1], ErrorCode::kTransport);  // 100 bytes of it had arrived
  ExpectFailed(*file, 2, futures[2], ErrorCode::kTransport);
  EXPECT_EQ(cache_.stats().loading_blocks, 0u);

  // The failed blocks are absent, not stuck: they can be claimed and loaded again.
  Claim(*file, 1, 2);
  fetcher_.FetchClaimed(file, 1, 2, FetchPriority::kDemand);
  ExpectCached(*file, 1);
  ExpectCached(*file, 2);
}

TEST_F(BlockFetcherTest, FailureBeforeAnyByteFailsEveryClaim) {
  const FileVersionPtr file = AddFile("https://h/f", 10000, 8);
  std::vector<BlockFuture> futures = Claim(*file, 0, 2);
  source_.FailNextFetches(1, Status(ErrorCode::kHttpStatus, "HTTP 503"));
  fetcher_.FetchClaimed(file, 0, 2, FetchPriority::kDemand);
  for (uint64_t index = 0; index < 3; ++index) {
    ExpectFailed(*file, index, futures[index], ErrorCode::kHttpStatus);
  }
  EXPECT_EQ(cache_.stats().loading_blocks, 0u);
}

TEST_F(BlockFetcherTest, BodyEndingEarlyFailsTheRestAsAProtocolViolation) {
  const FileVersionPtr file = AddFile("https://h/f", 10000, 9);
  std::vector<BlockFuture> futures = Claim(*file, 0, 2);
  source_.ShortenNextFetches(1, 1);  // the last byte never comes, yet the source says ok
  fetcher_.FetchClaimed(file, 0, 2, FetchPriority::kDemand);
  ExpectCached(*file, 0);
  ExpectCached(*file, 1);
  ExpectFailed(*file, 2, futures[2], ErrorCode::kProtocolViolation);
  EXPECT_EQ(cache_.stats().loading_blocks, 0u);
}

TEST_F(BlockFetcherTest, BytesBeyondTheRunAreRefused) {
  const FileVersionPtr file = AddFile("https://h/f", 10000, 10);
  std::vector<BlockFuture> futures = Claim(*file, 0, 1);
  source_.LengthenNextFetches(1, 10);
  fetcher_.FetchClaimed(file, 0, 1, FetchPriority::kDemand);
  // Both blocks were complete before the extra bytes came; they hold the right bytes.
  ExpectCached(*file, 0);
  ExpectCached(*file, 1);
  EXPECT_EQ(cache_.Peek(file->KeyFor(2)), nullptr);
  EXPECT_EQ(cache_.stats().loading_blocks, 0u);
}

TEST_F(BlockFetcherTest, ErrorAfterAPartialBlockDoesNotPublishIt) {
  source_.DeferAllFetches();
  const FileVersionPtr file = AddFile("https://h/f", 10000, 11);
  std::vector<BlockFuture> futures = Claim(*file, 0, 2);
  fetcher_.FetchClaimed(file, 0, 2, FetchPriority::kDemand);
  ASSERT_TRUE(source_.DeliverPending(0, kBlock + 1000));
  ASSERT_TRUE(source_.FinishPending(0, Status(ErrorCode::kTransport, "timeout")));
  ExpectCached(*file, 0);
  ExpectFailed(*file, 1, futures[1], ErrorCode::kTransport);
  ExpectFailed(*file, 2, futures[2], ErrorCode::kTransport);
}

TEST_F(BlockFetcherTest, SinkDestroyedWithoutOnDoneFailsItsRemainingClaims) {
  source_.DeferAllFetches();
  const FileVersionPtr file = AddFile("https://h/f", 10000, 12);
  std::vector<BlockFuture> futures = Claim(*file, 0, 2);
  fetcher_.FetchClaimed(file, 0, 2, FetchPriority::kPrefetch);
  ASSERT_TRUE(source_.DeliverPending(0, kBlock));
  ASSERT_TRUE(source_.DropPending(0));  // the source loses the request

  ExpectCached(*file, 0);
  for (uint64_t index = 1; index <= 2; ++index) {
    SCOPED_TRACE(::testing::Message() << "block " << index);
    ASSERT_TRUE(IsReady(futures[index])) << "a waiter would hang forever";
    EXPECT_FALSE(futures[index].get().ok());
    EXPECT_EQ(cache_.Peek(file->KeyFor(index)), nullptr);
  }
  EXPECT_EQ(cache_.stats().loading_blocks, 0u);
  EXPECT_TRUE(cache_.TryClaim(file->KeyFor(1))) << "the block is absent again";
  cache_.Fail(file->KeyFor(1), Status(ErrorCode::kInternal, "test done"));
}

TEST_F(BlockFetcherTest, BlocksAreKeyedByTheVersionFetched) {
  const FileVersionPtr old_version = AddFile("https://h/f", 10000, 13, /*generation=*/0);
  Claim(*old_version, 0, 0);
  fetcher_.FetchClaimed(old_version, 0, 0, FetchPriority::kDemand);

  // The remote changes (new size, new bytes); the new version gets a new generation.
  const FileVersionPtr new_version = AddFile("https://h/f", 12000, 14, /*generation=*/1);
  EXPECT_TRUE(cache_.TryClaim(new_version->KeyFor(0))) << "the old block must not serve";
  fetcher_.FetchClaimed(new_version, 0, 0, FetchPriority::kDemand);
  const BlockPtr old_block = cache_.Peek(old_version->KeyFor(0));
  const BlockPtr new_block = cache_.Peek(new_version->KeyFor(0));
  ASSERT_NE(old_block, nullptr);
  ASSERT_NE(new_block, nullptr);
  EXPECT_NE(old_block, new_block);
  EXPECT_TRUE(BytesOf(*new_block) == Expected(*new_version, 0));
  EXPECT_FALSE(BytesOf(*old_block) == BytesOf(*new_block));
}

TEST_F(BlockFetcherTest, RequestForAVersionTheRemoteNoLongerHasFailsItsClaims) {
  const FileVersionPtr old_version = AddFile("https://h/f", 10000, 15);
  source_.AddSyntheticFile("https://h/f", 20000, 16);  // the remote changed size
  std::vector<BlockFuture> futures = Claim(*old_version, 0, 1);
  fetcher_.FetchClaimed(old_version, 0, 1, FetchPriority::kDemand);
  ExpectFailed(*old_version, 0, futures[0], ErrorCode::kRemoteChanged);
  ExpectFailed(*old_version, 1, futures[1], ErrorCode::kRemoteChanged);
}

// With a second tier (the disk cache): what it holds is served from it, the rest from the
// source, and what the source brings is offered to it.
class BlockFetcherStoreTest : public BlockFetcherTest {
 protected:
  BlockFetcherStoreTest() { fetcher_.SetStore(&store_); }

  // Puts the right bytes of block `index` of `version` in the store.
  void Store(const FileVersion& version, uint64_t index) {
    const std::vector<std::byte> bytes = Expected(version, index);
    auto block = std::make_shared<Block>(bytes.size());
    std::copy(bytes.begin(), bytes.end(), block->mutable_bytes().begin());
    store_.Put(*version.key, index, std::move(block));
  }

  fakes::MemoryBlockStore store_;
};

TEST_F(BlockFetcherStoreTest, BlocksTheStoreHoldsMakeNoRequest) {
  const FileVersionPtr file = AddFile("https://h/f", 3 * kBlock, 21);
  for (uint64_t index = 0; index < 3; ++index) Store(*file, index);
  std::vector<BlockFuture> futures = Claim(*file, 0, 2);
  fetcher_.FetchClaimed(file, 0, 2, FetchPriority::kDemand);
  EXPECT_EQ(source_.fetch_count(), 0u);
  for (uint64_t index = 0; index < 3; ++index) {
    EXPECT_TRUE(IsReady(futures[index])) << "a demand load answers on the caller's thread";
    ExpectCached(*file, index);
  }
  EXPECT_EQ(store_.offers(), 0u) << "blocks from the store are not written back";
}

TEST_F(BlockFetcherStoreTest, OnlyTheMissingRunsGoToTheSource) {
  const FileVersionPtr file = AddFile("https://h/f", 6 * kBlock - 100, 22);
  Store(*file, 1);
  Store(*file, 4);
  Claim(*file, 0, 5);
  fetcher_.FetchClaimed(file, 0, 5, FetchPriority::kDemand);
  // Blocks 0, 2-3 and 5 are missing: one multi-range fetch of three runs.
  EXPECT_EQ(source_.fetched_ranges(),
            (std::vector<ByteRange>{
                {0, kBlock - 1}, {2 * kBlock, 4 * kBlock - 1}, {5 * kBlock, 6 * kBlock - 101}}));
  for (uint64_t index = 0; index < 6; ++index) ExpectCached(*file, index);
  // What the source brought is offered, the short last block included.
  for (const uint64_t index : {0u, 2u, 3u, 5u}) {
    EXPECT_TRUE(store_.Holds(*file->key, index)) << "block " << index;
  }
  EXPECT_EQ(store_.offers(), 4u);
}

TEST_F(BlockFetcherStoreTest, ABlockOfTheWrongLengthIsAMiss) {
  const FileVersionPtr file = AddFile("https://h/f", 2 * kBlock, 23);
  store_.Put(*file->key, 0, std::make_shared<Block>(kBlock - 1));
  Claim(*file, 0, 0);
  fetcher_.FetchClaimed(file, 0, 0, FetchPriority::kDemand);
  EXPECT_EQ(source_.fetched_ranges(), (std::vector<ByteRange>{{0, kBlock - 1}}));
  ExpectCached(*file, 0);
}

TEST_F(BlockFetcherStoreTest, PrefetchesLookInTheStoreOffTheCallersThread) {
  const FileVersionPtr file = AddFile("https://h/f", 4 * kBlock, 24);
  Store(*file, 0);
  Store(*file, 1);
  std::vector<BlockFuture> futures = Claim(*file, 0, 3);
  fetcher_.FetchClaimed(file, 0, 3, FetchPriority::kPrefetch);
  for (uint64_t index = 0; index < 4; ++index) {
    ASSERT_TRUE(fakes::Eventually([&] { return IsReady(futures[index]); })) << index;
    ExpectCached(*file, index);
  }
  EXPECT_EQ(source_.fetch_calls(),
            (std::vector<FetchCall>{{.url = "https://h/f",
                                     .range = {2 * kBlock, 4 * kBlock - 1},
                                     .priority = FetchPriority::kPrefetch}}));
}

TEST_F(BlockFetcherStoreTest, AFailedFetchOffersOnlyCompleteBlocks) {
  const FileVersionPtr file = AddFile("https://h/f", 3 * kBlock, 25);
  source_.FailNextFetches(1, Status(ErrorCode::kTransport, "connection reset"), kBlock + 100);
  Claim(*file, 0, 2);
  fetcher_.FetchClaimed(file, 0, 2, FetchPriority::kDemand);
  EXPECT_TRUE(store_.Holds(*file->key, 0));
  EXPECT_FALSE(store_.Holds(*file->key, 1));
  EXPECT_FALSE(store_.Holds(*file->key, 2));
}

TEST(BlockFetcherStoppingTest, PrefetchLookupsNotStartedFailTheirClaims) {
  // A store whose Load blocks until released holds the only workers busy, so later lookups
  // are still queued when the fetcher is destroyed.
  class BlockingStore final : public BlockStore {
   public:
    BlockPtr Load(const FileKey&, uint64_t, size_t) override {
      std::unique_lock lock(mu_);
      ++loading_;
      changed_.notify_all();
      changed_.wait(lock, [this] { return released_; });
      return nullptr;
    }
    void Offer(const FileKeyPtr&, uint64_t, BlockPtr) override {}
    uint64_t StoredBytesOf(const FileKey&) override { return 0; }
    void WaitForLoading(int count) {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [&] { return loading_ >= count; });
    }
    void Release() {
      std::lock_guard lock(mu_);
      released_ = true;
      changed_.notify_all();
    }

   private:
    std::mutex mu_;
    std::condition_variable changed_;
    int loading_ = 0;
    bool released_ = false;
  };
  BlockCache cache(1 << 20);
  MemoryRangeSource source;
  source.DeferAllFetches();
  BlockingStore store;
  const FileVersionPtr file =
      MakeFileVersion(source.AddSyntheticFile("https://h/f", 64 * kBlock, 26), kBlock, 0);
  std::vector<BlockFuture> futures;
  std::optional<BlockFetcher> fetcher(std::in_place, cache, source, kBlock);
  fetcher->SetStore(&store);
  const auto workers = static_cast<uint64_t>(BlockFetcher::kStoreWorkers);
  for (uint64_t index = 0; index <= workers; ++index) {
    futures.push_back(cache.Acquire(file->KeyFor(index)).pending);
    fetcher->FetchClaimed(file, index, index, FetchPriority::kPrefetch);
  }
  store.WaitForLoading(static_cast<int>(workers));
  std::thread release([&store] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    store.Release();
  });
  // The destructor fails the queued lookup and waits for the running ones.
  fetcher.reset();
  release.join();
  ASSERT_TRUE(IsReady(futures.back())) << "the queued lookup's claim was left hanging";
  EXPECT_FALSE(futures.back().get().ok());
  source.DropAllPending();
  EXPECT_EQ(cache.stats().loading_blocks, 0u);
}

}  // namespace
}  // namespace rangefs
