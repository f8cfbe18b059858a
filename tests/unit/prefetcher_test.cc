#include "rangefs/prefetcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fakes/eventually.h"
#include "fakes/memory_range_source.h"
#include "fakes/printers.h"
#include "rangefs/block_cache.h"
#include "rangefs/block_fetcher.h"
#include "rangefs/file_version.h"

namespace rangefs {
namespace {

using fakes::FetchCall;
using fakes::MemoryRangeSource;

constexpr uint64_t kBlock = 4096;
constexpr uint64_t kGiB = uint64_t{1} << 30;

// Byte range of blocks [first, last] of a file of `size` bytes.
ByteRange Blocks(uint64_t first, uint64_t last, uint64_t size = UINT64_MAX) {
  return ByteRange{first * kBlock, std::min((last + 1) * kBlock, size) - 1};
}

class PrefetcherTest : public ::testing::Test {
 protected:
  FileVersionPtr AddFile(uint64_t size, uint64_t seed = 1) {
    return MakeFileVersion(source_.AddSyntheticFile(kUrl, size, seed), kBlock);
  }

  // Prefetches with the given spread and returns the ranges fetched, checking that every one is a
  // prefetch and that each went out as a request of its own.
  std::vector<ByteRange> Prefetch(size_t connections, uint64_t max_request_bytes,
                                  const FileVersionPtr& version, const ByteRange& range,
                                  uint64_t window = 0) {
    const std::vector<Request> requests =
        PrefetchRequests(connections, max_request_bytes, version, range, 16, window);
    std::vector<ByteRange> ranges;
    for (const Request& request : requests) {
      EXPECT_EQ(request.size(), 1u) << "one range a request";
      ranges.insert(ranges.end(), request.begin(), request.end());
    }
    return ranges;
  }

  // The requests (each one or several ranges) a prefetch makes.
  using Request = std::vector<ByteRange>;
  std::vector<Request> PrefetchRequests(size_t connections, uint64_t max_request_bytes,
                                        const FileVersionPtr& version, const ByteRange& range,
                                        size_t max_ranges = 16, uint64_t window = 0) {
    source_.ResetCounters();
    Prefetcher prefetcher(fetcher_, connections, max_request_bytes, max_ranges);
    prefetcher.Prefetch(version, range, window);
    EXPECT_EQ(source_.fetch_count(FetchPriority::kDemand), 0u) << "prefetches are not demand";
    return source_.requests();
  }

  // Loads block `index` into the cache, as a reader would have.
  void Cache(const FileVersionPtr& version, uint64_t index) {
    ASSERT_TRUE(cache_.TryClaim(version->KeyFor(index)));
    fetcher_.FetchClaimed(version, index, index, FetchPriority::kDemand);
    ASSERT_NE(cache_.Peek(version->KeyFor(index)), nullptr);
  }

  void ExpectAllCached(const FileVersionPtr& version, uint64_t first, uint64_t last) {
    for (uint64_t index = first; index <= last; ++index) {
      const BlockPtr block = cache_.Peek(version->KeyFor(index));
      ASSERT_NE(block, nullptr) << "block " << index;
      const ByteRange range = Blocks(index, index, version->info.size);
      EXPECT_TRUE(std::vector<std::byte>(block->bytes().begin(), block->bytes().end()) ==
                  source_.Content(kUrl, range))
          << "block " << index;
    }
  }

  void TearDown() override {
    // Fetches a test left pending fail their claims now; then no claim may be left.
    source_.DropAllPending();
    EXPECT_EQ(cache_.stats().loading_blocks, 0u) << "a claim outlived every request";
  }

  static constexpr const char* kUrl = "https://h/f";
  BlockCache cache_{64 << 20};
  MemoryRangeSource source_;  // after the cache: see BlockFetcherTest
  BlockFetcher fetcher_{cache_, source_, kBlock};
};

TEST_F(PrefetcherTest, AdjacentMissingBlocksAreOneRequest) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  EXPECT_EQ(Prefetch(1, 1 << 20, file, Blocks(0, 7)), (std::vector<ByteRange>{Blocks(0, 7)}));
  ExpectAllCached(file, 0, 7);
  EXPECT_EQ(cache_.Peek(file->KeyFor(8)), nullptr) << "nothing beyond the range";
}

TEST_F(PrefetcherTest, UsesPrefetchPriority) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  Prefetcher prefetcher(fetcher_, 2, 1 << 20, 16);
  prefetcher.Prefetch(file, Blocks(0, 3));
  for (const FetchCall& call : source_.fetch_calls()) {
    EXPECT_EQ(call.priority, FetchPriority::kPrefetch);
    EXPECT_EQ(call.url, kUrl);
  }
  EXPECT_EQ(source_.fetch_count(FetchPriority::kPrefetch), 2u);
}

TEST_F(PrefetcherTest, UnalignedRangeFetchesTheBlocksItTouches) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  EXPECT_EQ(Prefetch(1, 1 << 20, file, ByteRange{100, kBlock + 1}),
            (std::vector<ByteRange>{Blocks(0, 1)}));
}

TEST_F(PrefetcherTest, LastBlockIsClampedToTheEndOfTheFile) {
  const FileVersionPtr file = AddFile(10000);
  EXPECT_EQ(Prefetch(1, 1 << 20, file, ByteRange{5000, 9999}),
            (std::vector<ByteRange>{ByteRange{kBlock, 9999}}));
  ExpectAllCached(file, 1, 2);
}

TEST_F(PrefetcherTest, SkipsCachedAndLoadingBlocks) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  Cache(file, 2);
  ASSERT_TRUE(cache_.TryClaim(file->KeyFor(5)));  // someone else is loading block 5
  // The three runs the gaps leave go out together: one request's worth of blocks.
  EXPECT_EQ(PrefetchRequests(1, 1 << 20, file, Blocks(0, 7)),
            (std::vector<Request>{{Blocks(0, 1), Blocks(3, 4), Blocks(6, 7)}}));
  EXPECT_EQ(cache_.stats().loading_blocks, 1u) << "only block 5, still with its loader";
  cache_.Fail(file->KeyFor(5), Status(ErrorCode::kInternal, "test done"));
  ExpectAllCached(file, 0, 1);
  ExpectAllCached(file, 3, 4);
  ExpectAllCached(file, 6, 7);
}

TEST_F(PrefetcherTest, EverythingCachedMakesNoRequest) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  for (uint64_t index = 0; index < 4; ++index) Cache(file, index);
  EXPECT_EQ(Prefetch(4, 1 << 20, file, Blocks(0, 3)), (std::vector<ByteRange>{}));
}

TEST_F(PrefetcherTest, SpreadsTheRangeOverTheConnections) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  EXPECT_EQ(Prefetch(4, 1 << 20, file, Blocks(0, 7)),
            (std::vector<ByteRange>{Blocks(0, 1), Blocks(2, 3), Blocks(4, 5), Blocks(6, 7)}));
  ExpectAllCached(file, 0, 7);
}

TEST_F(PrefetcherTest, UnevenSpreadMakesNoStubRequest) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  // A share is ceil(10 / 4) = 3 blocks; 10 / 3 rounds to 3 requests, of 4, 3 and 3 blocks,
  // rather than a fourth of one block that would cost a round trip of its own.
  EXPECT_EQ(Prefetch(4, 1 << 20, file, Blocks(0, 9)),
            (std::vector<ByteRange>{Blocks(0, 3), Blocks(4, 6), Blocks(7, 9)}));
}

TEST_F(PrefetcherTest, MoreConnectionsThanBlocksMeansOneBlockARequest) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  EXPECT_EQ(Prefetch(8, 1 << 20, file, Blocks(10, 12)),
            (std::vector<ByteRange>{Blocks(10, 10), Blocks(11, 11), Blocks(12, 12)}));
}

TEST_F(PrefetcherTest, RequestsAreCappedByMaxRequestBytes) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  // At most 4 blocks a request: ten blocks need three, as even as they come.
  EXPECT_EQ(Prefetch(1, 4 * kBlock, file, Blocks(0, 9)),
            (std::vector<ByteRange>{Blocks(0, 3), Blocks(4, 6), Blocks(7, 9)}));
}

TEST_F(PrefetcherTest, CapIsRoundedDownToWholeBlocks) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  EXPECT_EQ(Prefetch(1, 3 * kBlock - 1, file, Blocks(0, 5)),
            (std::vector<ByteRange>{Blocks(0, 1), Blocks(2, 3), Blocks(4, 5)}));
}

TEST_F(PrefetcherTest, CapBelowOneBlockStillFetchesWholeBlocks) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  EXPECT_EQ(Prefetch(1, 100, file, Blocks(0, 2)),
            (std::vector<ByteRange>{Blocks(0, 0), Blocks(1, 1), Blocks(2, 2)}));
}

TEST_F(PrefetcherTest, SpreadAndCapTogether) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  // 40 blocks over 2 connections would be 20 a request; the cap allows 8.
  std::vector<ByteRange> want;
  for (uint64_t first = 0; first < 40; first += 8) want.push_back(Blocks(first, first + 7));
  EXPECT_EQ(Prefetch(2, 8 * kBlock, file, Blocks(0, 39)), want);
}

// A top-up asks for a slice of a window: its requests are as long as the window's share of a
// connection, not the slice's.
TEST_F(PrefetcherTest, TopUpOfOneShareIsOneRequest) {
  const FileVersionPtr file = AddFile(1000 * kBlock);
  // A window of 64 blocks over 8 connections: shares of 8 blocks.
  EXPECT_EQ(Prefetch(8, 1 << 20, file, Blocks(100, 107), 64 * kBlock),
            (std::vector<ByteRange>{Blocks(100, 107)}));
  // A share and a bit is still one request; a share and a half is two.
  EXPECT_EQ(Prefetch(8, 1 << 20, file, Blocks(200, 210), 64 * kBlock),
            (std::vector<ByteRange>{Blocks(200, 210)}));
  EXPECT_EQ(Prefetch(8, 1 << 20, file, Blocks(300, 311), 64 * kBlock),
            (std::vector<ByteRange>{Blocks(300, 305), Blocks(306, 311)}));
  // A grown window asks for half a window at once: one request a share.
  EXPECT_EQ(Prefetch(8, 1 << 20, file, Blocks(400, 431), 64 * kBlock),
            (std::vector<ByteRange>{Blocks(400, 407), Blocks(408, 415), Blocks(416, 423),
                                    Blocks(424, 431)}));
  // The cap still holds: shares of 8 blocks, at most 4 a request.
  EXPECT_EQ(Prefetch(8, 4 * kBlock, file, Blocks(500, 507), 64 * kBlock),
            (std::vector<ByteRange>{Blocks(500, 503), Blocks(504, 507)}));
  // A window smaller than the range counts as the range.
  EXPECT_EQ(Prefetch(2, 1 << 20, file, Blocks(600, 607), kBlock),
            (std::vector<ByteRange>{Blocks(600, 603), Blocks(604, 607)}));
}

TEST_F(PrefetcherTest, RunsCutByCachedBlocksShareRequestsUpToTheRequestSize) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  Cache(file, 1);
  // 8 blocks over 2 connections: 4 blocks a request. Block 1 cuts the first run; the request
  // that takes block 0 takes the next three missing ones too.
  EXPECT_EQ(PrefetchRequests(2, 1 << 20, file, Blocks(0, 7)),
            (std::vector<Request>{{Blocks(0, 0), Blocks(2, 4)}, {Blocks(5, 7)}}));
  ExpectAllCached(file, 0, 7);
}

TEST_F(PrefetcherTest, EveryFourthBlockCachedStillMakesOneRequestPerConnection) {
  // The gap-filling pattern: every fourth block was read before. 32 blocks over 2 connections
  // are a share of 16; the 24 missing ones lie in 8 runs of 3 and make 24 / 16 ~ 2 requests of
  // 12 blocks, four runs each: two requests instead of eight.
  const FileVersionPtr file = AddFile(100 * kBlock);
  for (uint64_t index = 0; index < 32; index += 4) Cache(file, index);
  const std::vector<Request> requests = PrefetchRequests(2, 1 << 20, file, Blocks(0, 31));
  const std::vector<Request> want = {
      {Blocks(1, 3), Blocks(5, 7), Blocks(9, 11), Blocks(13, 15)},
      {Blocks(17, 19), Blocks(21, 23), Blocks(25, 27), Blocks(29, 31)}};
  EXPECT_EQ(requests, want);
  ExpectAllCached(file, 0, 31);
}

TEST_F(PrefetcherTest, RangesPerRequestAreCappedByMaxRanges) {
  const FileVersionPtr file = AddFile(100 * kBlock);
  for (uint64_t index = 0; index < 12; index += 2) Cache(file, index);
  // Six one-block runs fit one request by size; max_ranges 4 cuts it after four.
  EXPECT_EQ(PrefetchRequests(1, 1 << 20, file, Blocks(0, 11), /*max_ranges=*/4),
            (std::vector<Request>{{Blocks(1, 1), Blocks(3, 3), Blocks(5, 5), Blocks(7, 7)},
                                  {Blocks(9, 9), Blocks(11, 11)}}));
  // max_ranges 1: one request a run, as a source that cannot ask for several would need.
  for (uint64_t index = 20; index < 26; index += 2) Cache(file, index);
  EXPECT_EQ(PrefetchRequests(1, 1 << 20, file, Blocks(20, 25), /*max_ranges=*/1),
            (std::vector<Request>{{Blocks(21, 21)}, {Blocks(23, 23)}, {Blocks(25, 25)}}));
}

TEST_F(PrefetcherTest, OffsetsAbove4GiB) {
  const FileVersionPtr file = AddFile(5 * kGiB + 1);
  const uint64_t first = 4 * kGiB / kBlock - 2;
  EXPECT_EQ(Prefetch(1, 1 << 20, file, Blocks(first, first + 3)),
            (std::vector<ByteRange>{Blocks(first, first + 3)}));
  EXPECT_EQ(Prefetch(1, 1 << 20, file, ByteRange{5 * kGiB - 1, 5 * kGiB}),
            (std::vector<ByteRange>{ByteRange{5 * kGiB - kBlock, 5 * kGiB}}));
  ExpectAllCached(file, first, first + 3);
  ExpectAllCached(file, 5 * kGiB / kBlock - 1, 5 * kGiB / kBlock);
}

TEST_F(PrefetcherTest, DoesNotWaitForItsRequests) {
  source_.DeferFetches(FetchPriority::kPrefetch);
  const FileVersionPtr file = AddFile(100 * kBlock);
  Prefetcher prefetcher(fetcher_, 2, 1 << 20, 16);
  std::atomic<bool> returned{false};
  std::thread prefetching([&] {
    prefetcher.Prefetch(file, Blocks(0, 3));
    returned = true;
  });
  const bool returned_unanswered = fakes::Eventually([&] { return returned.load(); });
  if (!returned_unanswered) {
    source_.DeferAllFetches(false);
    source_.CompleteAllPending();
  }
  prefetching.join();
  ASSERT_TRUE(returned_unanswered) << "Prefetch waited for its requests";
  EXPECT_EQ(source_.pending_count(), 2u);
  EXPECT_EQ(cache_.stats().loading_blocks, 4u);

  // A second prefetch of the same window finds every block loading and asks for nothing.
  prefetcher.Prefetch(file, Blocks(0, 3));
  EXPECT_EQ(source_.fetch_count(), 2u);

  EXPECT_EQ(source_.CompleteAllPending(), 2u);
  EXPECT_EQ(cache_.stats().loading_blocks, 0u);
  ExpectAllCached(file, 0, 3);
}

}  // namespace
}  // namespace rangefs
