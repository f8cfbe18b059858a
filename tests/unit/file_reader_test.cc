#include "rangefs/file_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fakes/eventually.h"
#include "fakes/memory_range_source.h"
#include "fakes/printers.h"
#include "fakes/version_registry.h"
#include "rangefs/block_cache.h"
#include "rangefs/block_fetcher.h"
#include "rangefs/file_version.h"
#include "rangefs/metrics_collection.h"
#include "rangefs/prefetcher.h"
#include "rangefs/readahead_policy.h"

namespace rangefs {
namespace {

using fakes::Eventually;
using fakes::FetchCall;
using fakes::MemoryRangeSource;

constexpr uint64_t kBlock = 4096;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// A max_window of zero: no read ever fetches ahead, so every request a test sees is demand.
ReadaheadConfig NoReadahead() { return ReadaheadConfig{.initial_window = kBlock, .max_window = 0}; }

// Readahead in blocks: 4 at first, up to 16, reads within 2 blocks of a stream continue it.
ReadaheadConfig SmallReadahead() {
  return ReadaheadConfig{.initial_window = 4 * kBlock,
                         .max_window = 16 * kBlock,
                         .reorder_slack = 2 * kBlock,
                         .max_streams = 4};
}

// Byte range of blocks [first, last] of a file of `size` bytes.
ByteRange Blocks(uint64_t first, uint64_t last, uint64_t size = kMax) {
  return ByteRange{first * kBlock, std::min((last + 1) * kBlock, size) - 1};
}

std::vector<std::byte> Bytes(std::string_view text) {
  std::vector<std::byte> bytes;
  for (char c : text) bytes.push_back(static_cast<std::byte>(c));
  return bytes;
}

std::vector<std::byte> Flatten(const ReadBuffer& buffer) {
  std::vector<std::byte> bytes(buffer.size());
  buffer.CopyTo(bytes);
  return bytes;
}

// The read path of one mount, over the fixture's source: cache, fetcher, prefetcher, and
// readers each opened with the readahead state of its file.
class FileReaderTest : public ::testing::Test {
 protected:
  struct Stack {
    Stack(MemoryRangeSource& source, size_t cache_bytes, size_t connections,
          uint64_t max_request_bytes)
        : cache(cache_bytes),
          fetcher(cache, source, kBlock),
          prefetcher(fetcher, connections, max_request_bytes, /*max_ranges=*/16) {}
    BlockCache cache;
    BlockFetcher fetcher;
    Prefetcher prefetcher;
  };

  void SetUp() override { MakeStack(1 << 20); }

  void TearDown() override {
    EXPECT_EQ(source_.pending_count(), 0u) << "the test left fetches unanswered";
    // Whatever a test left pending fails now, while the cache its sinks report to exists (the
    // source outlives the stack).
    source_.DropAllPending();
    EXPECT_EQ(cache().stats().loading_blocks, 0u) << "a claim outlived every request";
  }

  // Stops deferring and completes every pending fetch, so that reader threads waiting for them
  // return, whatever state a failed assertion left the test in.
  void ReleaseAll() {
    source_.DeferAllFetches(false);
    source_.CompleteAllPending();
  }

  // Replaces the stack (and forgets every reader) with one of a `cache_bytes` cache.
  void MakeStack(size_t cache_bytes, size_t connections = 2,
                 uint64_t max_request_bytes = 8 * kBlock) {
    readers_.clear();
    readaheads_.clear();
    source_.DropAllPending();
    stack_ = std::make_unique<Stack>(source_, cache_bytes, connections, max_request_bytes);
  }

  FileVersionPtr Version(const RemoteFileInfo& info, uint64_t generation = 0) {
    return MakeFileVersion(info, kBlock, generation);
  }

  // Opens a reader on `version` with readahead state of its own.
  FileReader& Open(const FileVersionPtr& version,
                   const ReadaheadConfig& readahead = NoReadahead()) {
    SharedReadahead& shared = readaheads_.emplace_back(readahead);
    return Open(version, shared);
  }
  // Opens a reader sharing `readahead` (another handle of the same file).
  FileReader& Open(const FileVersionPtr& version, SharedReadahead& readahead) {
    // Without failure memory, so that a test's next read after a failure asks again (the
    // memory has tests of its own).
    readers_.push_back(std::make_unique<FileReader>(
        stack_->fetcher, stack_->prefetcher, readahead, versions_, version, std::stop_token(),
        nullptr, ReadWaitLimits{.failure_memory = std::chrono::milliseconds(0)}));
    return *readers_.back();
  }
  FileReader& Open(const RemoteFileInfo& info, const ReadaheadConfig& readahead = NoReadahead()) {
    return Open(Version(info), readahead);
  }

  // Reads and checks the count and the bytes against the source's content.
  void ExpectBytes(FileReader& reader, uint64_t offset, uint64_t size) {
    const RemoteFileInfo& file = reader.version().info;
    const std::optional<ByteRange> range = ClampToFile(offset, size, file.size);
    Result<ReadBuffer> read = reader.Read(offset, size);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    if (!range) {
      EXPECT_EQ(read->size(), 0u);
      EXPECT_TRUE(read->slices().empty());
      return;
    }
    ASSERT_EQ(read->size(), range->length());
    EXPECT_TRUE(Flatten(*read) == source_.Content(file.url, *range)) << "wrong bytes";
  }

  // Reads and checks the bytes and that exactly `fetches` were requested, on demand.
  void ExpectRead(FileReader& reader, uint64_t offset, uint64_t size,
                  const std::vector<ByteRange>& fetches) {
    SCOPED_TRACE(::testing::Message() << "read " << size << " at " << offset);
    source_.ResetCounters();
    ExpectBytes(reader, offset, size);
    std::vector<FetchCall> want;
    for (const ByteRange& range : fetches) {
      want.push_back({reader.version().info.url, range, FetchPriority::kDemand});
    }
    EXPECT_EQ(source_.fetch_calls(), want);
  }

  // Runs `work` on a thread and waits (bounded) for it to return without any pending fetch
  // being answered. Returns whether it did; if not, answers everything so that it ends, and the
  // test fails instead of hanging.
  template <typename Work>
  bool ReturnsWithoutAnswers(Work work) {
    std::atomic<bool> done{false};
    std::thread thread([&] {
      work();
      done = true;
    });
    const bool returned = Eventually([&] { return done.load(); });
    if (!returned) ReleaseAll();
    thread.join();
    return returned;
  }

  // Opens a file of 100 blocks (made from `seed`) and reads blocks 0 and 1: a stream, whose
  // readahead asks for blocks 2-3 and 4-5 in two prefetches that stay pending.
  FileReader& OpenWithPendingPrefetches(uint64_t seed) {
    source_.DeferFetches(FetchPriority::kPrefetch);
    FileReader& reader =
        Open(source_.AddSyntheticFile("https://h/f", 100 * kBlock, seed), SmallReadahead());
    ExpectBytes(reader, 0, kBlock);
    EXPECT_TRUE(ReturnsWithoutAnswers([&] { ExpectBytes(reader, kBlock, kBlock); }))
        << "the read waited for its own readahead";
    return reader;
  }

  BlockCache& cache() { return stack_->cache; }

  MemoryRangeSource source_;
  std::unique_ptr<Stack> stack_;
  std::deque<SharedReadahead> readaheads_;
  fakes::FakeVersionRegistry versions_;
  std::vector<std::unique_ptr<FileReader>> readers_;
};

// --- Bytes and requests of single reads ---

TEST_F(FileReaderTest, ReadAtStartFetchesTheWholeFirstBlock) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10000, 1));
  ExpectRead(reader, 0, 100, {Blocks(0, 0)});
}

TEST_F(FileReaderTest, ReadSpanningEofReturnsAShortCount) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10000, 2));
  ExpectRead(reader, 9950, 100, {ByteRange{2 * kBlock, 9999}});
  Result<ReadBuffer> read = reader.Read(9950, 100);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->size(), 50u);
}

TEST_F(FileReaderTest, ReadsEndingExactlyAtEof) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10000, 3));
  ExpectRead(reader, 9000, 1000, {ByteRange{2 * kBlock, 9999}});
  ExpectRead(reader, 0, 10000, {Blocks(0, 1)});
  ExpectRead(reader, 0, 4 * kBlock, {});
}

TEST_F(FileReaderTest, ReadAtOrPastEofReturnsNothingWithoutFetching) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10000, 4));
  for (uint64_t offset : {uint64_t{10000}, uint64_t{10001}, 5 * kGiB, kMax - 1, kMax}) {
    ExpectRead(reader, offset, 4096, {});
  }
  ExpectRead(reader, 10, 0, {});  // an empty read anywhere
  EXPECT_EQ(cache().stats().misses, 0u);
}

TEST_F(FileReaderTest, HugeSizeIsClampedToTheFile) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10000, 5));
  ExpectRead(reader, 0, kMax, {ByteRange{0, 9999}});
  ExpectRead(reader, 5000, kMax - 4000, {});
}

TEST_F(FileReaderTest, ZeroLengthFile) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/empty", 0, 6));
  for (uint64_t offset : {uint64_t{0}, uint64_t{1}, 4 * kGiB}) ExpectRead(reader, offset, 4096, {});
}

TEST_F(FileReaderTest, ExplicitContent) {
  FileReader& reader = Open(source_.AddFile("https://h/hello", "hello, world"));
  Result<ReadBuffer> read = reader.Read(7, 100);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(Flatten(*read) == Bytes("world"));
  EXPECT_EQ(source_.fetched_ranges(), (std::vector<ByteRange>{{0, 11}}));
}

TEST_F(FileReaderTest, ReadsSpanningBlockBoundaries) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 20000, 7));
  ExpectRead(reader, kBlock - 96, 200, {Blocks(0, 1)});
  Result<ReadBuffer> read = reader.Read(kBlock - 96, 200);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->slices().size(), 2u) << "one slice per block";
  EXPECT_EQ(read->slices()[0].size(), 96u);
  EXPECT_EQ(read->slices()[1].size(), 104u);

  ExpectRead(reader, 100, 3 * kBlock, {Blocks(2, 3)});  // blocks 0-3; 0 and 1 cached
  ExpectRead(reader, 1, 20000, {Blocks(4, 4, 20000)});
}

TEST_F(FileReaderTest, OffsetsAbove4GiB) {
  constexpr uint64_t kSize = 5 * kGiB;
  constexpr uint64_t k4GiBBlock = 4 * kGiB / kBlock;
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/big", kSize, 8));
  ExpectRead(reader, 4 * kGiB, 4096, {Blocks(k4GiBBlock, k4GiBBlock)});
  ExpectRead(reader, 4 * kGiB + 12345, 131072, {Blocks(k4GiBBlock + 3, k4GiBBlock + 35)});
  // Crosses 2^32: a 32-bit truncation anywhere shows up here.
  ExpectRead(reader, 4 * kGiB - 512, 1024, {Blocks(k4GiBBlock - 1, k4GiBBlock - 1)});
  ExpectRead(reader, kSize - 4096, 4096, {Blocks(kSize / kBlock - 1, kSize / kBlock - 1)});
  ExpectRead(reader, kSize - 100, 4096, {});  // spans EOF, cached
  ExpectRead(reader, kSize - 2 * kBlock - 1, 2, {Blocks(kSize / kBlock - 3, kSize / kBlock - 2)});
  ExpectRead(reader, kSize, 4096, {});
  ExpectRead(reader, 6 * kGiB, 4096, {});
}

// Every read on a cold cache asks for exactly the blocks it touches: block-aligned start, end
// at a block end or at EOF, in one request.
TEST_F(FileReaderTest, ColdReadsFetchExactlyTheirWholeBlocks) {
  const struct {
    uint64_t file_size;
    uint64_t offset;
    uint64_t size;
  } cases[] = {{10000, 0, 1},
               {10000, 0, 4096},
               {10000, 1, 4095},
               {10000, 4095, 2},
               {10000, 5000, 5000},
               {10000, 5000, 5001},
               {10000, 9999, 1},
               {10000, 9999, 2},
               {10000, 0, 10000},
               {10000, 0, 10001},
               {10000, 123, 65536},
               {10000, 8192, 1},
               {8192, 8191, 10},
               {8192, 0, 8192},
               {1, 0, 1},
               {5 * kGiB, 4 * kGiB - 1, 2},
               {5 * kGiB, 5 * kGiB - 1, 100},
               {5 * kGiB, 3 * kGiB + 777, 3 * kBlock + 5}};
  uint64_t seed = 100;
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "file " << c.file_size);
    MakeStack(1 << 20);
    FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", c.file_size, ++seed));
    const uint64_t last = std::min(c.offset + c.size, c.file_size) - 1;
    ExpectRead(reader, c.offset, c.size, {Blocks(c.offset / kBlock, last / kBlock, c.file_size)});
  }
}

// --- The cache ---

TEST_F(FileReaderTest, RereadIsACacheHit) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10000, 9));
  ExpectRead(reader, 100, 200, {Blocks(0, 0)});
  ExpectRead(reader, 100, 200, {});
  ExpectRead(reader, 150, 10, {});
  ExpectRead(reader, 0, kBlock, {});
  EXPECT_EQ(cache().stats().hits, 3u);
}

TEST_F(FileReaderTest, SeveralMissingBlocksAreOneRequest) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 20000, 10));
  ExpectRead(reader, 0, 20000, {ByteRange{0, 19999}});
}

TEST_F(FileReaderTest, CachedBlockInTheMiddleSplitsTheRequest) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 20000, 11));
  ExpectRead(reader, kBlock, 1, {Blocks(1, 1)});
  ExpectRead(reader, 0, 3 * kBlock, {Blocks(0, 0), Blocks(2, 2)});
  EXPECT_EQ(source_.requests(), (std::vector<std::vector<ByteRange>>{{Blocks(0, 0), Blocks(2, 2)}}))
      << "the two runs of one read go out as one multi-range request";
  ExpectRead(reader, 0, 20000, {Blocks(3, 4, 20000)});
}

TEST_F(FileReaderTest, NoBlockIsEverFetchedTwiceWhileCached) {
  constexpr uint64_t kBlocks = 64;
  constexpr uint64_t kSize = kBlocks * kBlock - 10;
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", kSize, 12));
  source_.ResetCounters();
  uint64_t state = 12345;
  for (int i = 0; i < 300; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const uint64_t offset = (state >> 20) % (kSize + 100);
    const uint64_t size = 1 + (state >> 45) % (5 * kBlock);
    SCOPED_TRACE(::testing::Message() << "read " << size << " at " << offset);
    ExpectBytes(reader, offset, size);
    if (HasFatalFailure()) return;
  }
  std::vector<int> times_fetched(kBlocks, 0);
  for (const ByteRange& range : source_.fetched_ranges()) {
    EXPECT_EQ(range.first % kBlock, 0u);
    EXPECT_TRUE((range.last + 1) % kBlock == 0 || range.last == kSize - 1);
    for (uint64_t index = range.first / kBlock; index <= range.last / kBlock; ++index) {
      ++times_fetched[index];
    }
  }
  for (uint64_t index = 0; index < kBlocks; ++index) {
    EXPECT_LE(times_fetched[index], 1) << "block " << index;
  }
  EXPECT_EQ(cache().stats().evictions, 0u) << "the test assumes a cache that holds the file";
}

TEST_F(FileReaderTest, BlocksOfEachFileAreTheirOwn) {
  FileReader& a = Open(Version(source_.AddSyntheticFile("https://h/a", 10000, 13)));
  FileReader& b = Open(Version(source_.AddSyntheticFile("https://h/b", 10000, 14)));
  ExpectRead(a, 0, 100, {Blocks(0, 0)});
  ExpectRead(b, 0, 100, {Blocks(0, 0)});
  ExpectRead(a, 0, 100, {});
}

TEST_F(FileReaderTest, VersionIsPinnedAtOpen) {
  const FileVersionPtr old_version = Version(source_.AddSyntheticFile("https://h/f", 10000, 15));
  FileReader& old_reader = Open(old_version);
  ExpectRead(old_reader, 0, 100, {Blocks(0, 0)});

  // The remote grows and changes. The new version is a new generation with an inode of its own.
  const FileVersionPtr new_version =
      Version(source_.AddSyntheticFile("https://h/f", 20000, 16), /*generation=*/1);
  FileReader& new_reader = Open(new_version);

  EXPECT_EQ(old_reader.version().info.size, 10000u);
  ExpectRead(old_reader, 10000, 100, {});  // EOF of the old version
  // Cached blocks of the old version still serve its readers...
  Result<ReadBuffer> old_bytes = old_reader.Read(0, 100);
  ASSERT_TRUE(old_bytes.ok());
  // ...but never readers of the new one.
  ExpectRead(new_reader, 0, 100, {Blocks(0, 0)});
  Result<ReadBuffer> new_bytes = new_reader.Read(0, 100);
  ASSERT_TRUE(new_bytes.ok());
  EXPECT_FALSE(Flatten(*old_bytes) == Flatten(*new_bytes));
  // And what the old version never cached it cannot get: the remote has moved on.
  Result<ReadBuffer> stale = old_reader.Read(5000, 100);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), ErrorCode::kRemoteChanged);
}

TEST_F(FileReaderTest, ReplacedVersionServesWhatIsCachedAndRequestsNothing) {
  FileReader& reader =
      Open(source_.AddSyntheticFile("https://h/f", 10 * kBlock, 18), SmallReadahead());
  ExpectRead(reader, 0, 100, {Blocks(0, 0)});
  versions_.Replace(reader.version());
  source_.ResetCounters();
  ExpectBytes(reader, 0, 100);                         // cached: still this version's bytes
  for (uint64_t offset : {5 * kBlock, kBlock - 50}) {  // uncached, and partly cached
    Result<ReadBuffer> uncached = reader.Read(offset, 100);
    ASSERT_FALSE(uncached.ok());
    EXPECT_EQ(uncached.status().code(), ErrorCode::kRemoteChanged);
  }
  EXPECT_EQ(source_.fetch_count(), 0u) << "no request, not even readahead, for a replaced version";
  EXPECT_EQ(cache().stats().loading_blocks, 0u) << "every claim was ended";
}

TEST_F(FileReaderTest, ResponseFromAnotherVersionIsReported) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10 * kBlock, 19));
  ExpectRead(reader, 0, 100, {Blocks(0, 0)});
  source_.AddSyntheticFile("https://h/f", 10 * kBlock, 20);  // same size, new ETag
  versions_.ConfirmReports(true);  // the filesystem's probe finds the new version
  source_.ResetCounters();
  Result<ReadBuffer> read = reader.Read(3 * kBlock, 100);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), ErrorCode::kRemoteChanged);
  EXPECT_EQ(versions_.reports(), 1u);
  EXPECT_EQ(source_.fetch_count(), 1u) << "a confirmed change is not asked for again";
}

TEST_F(FileReaderTest, AFalseAlarmOfAnotherVersionIsReadAgainOnce) {
  // One answer looked like another version (a cache node serving an old copy, say), but the
  // server still describes this one: the read asks once more instead of failing.
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10 * kBlock, 21));
  source_.FailNextFetches(1, Status(ErrorCode::kRemoteChanged, "ETag is \"x\", was \"y\""));
  ExpectRead(reader, 3 * kBlock, 100, {Blocks(3, 3), Blocks(3, 3)});
  EXPECT_EQ(versions_.reports(), 1u);

  // Twice in a row is not waved through: the read fails.
  source_.FailNextFetches(2, Status(ErrorCode::kRemoteChanged, "ETag is \"x\", was \"y\""));
  source_.ResetCounters();
  Result<ReadBuffer> read = reader.Read(5 * kBlock, 100);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), ErrorCode::kRemoteChanged);
  EXPECT_EQ(source_.fetch_count(), 2u);
}

TEST_F(FileReaderTest, ReadBufferKeepsItsBlocksAliveAfterEviction) {
  MakeStack(2 * kBlock);
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10 * kBlock, 17));
  Result<ReadBuffer> held = reader.Read(kBlock - 10, 20);  // blocks 0 and 1
  ASSERT_TRUE(held.ok());
  const std::vector<std::byte> want = source_.Content("https://h/f", {kBlock - 10, kBlock + 9});
  ExpectBytes(reader, 5 * kBlock, 2 * kBlock);  // evicts both
  ASSERT_EQ(cache().Peek(reader.version().KeyFor(0)), nullptr);
  EXPECT_TRUE(Flatten(*held) == want);
}

TEST_F(FileReaderTest, ReadLargerThanTheCache) {
  MakeStack(2 * kBlock);
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10 * kBlock, 18));
  ExpectRead(reader, 10, 8 * kBlock, {Blocks(0, 8)});
  EXPECT_LE(cache().stats().cached_bytes, 2 * kBlock);
}

// --- Failures ---

TEST_F(FileReaderTest, FetchFailurePropagatesItsCodeAndTheNextReadRetries) {
  const RemoteFileInfo info = source_.AddSyntheticFile("https://h/f", 20000, 19);
  for (ErrorCode code :
       {ErrorCode::kTransport, ErrorCode::kHttpStatus, ErrorCode::kRangeNotSupported,
        ErrorCode::kRangeNotSatisfiable, ErrorCode::kProtocolViolation, ErrorCode::kInternal}) {
    SCOPED_TRACE(ErrorCodeName(code));
    MakeStack(1 << 20);
    FileReader& fresh = Open(info);
    source_.FailNextFetches(1, Status(code, "scripted failure"));
    Result<ReadBuffer> failed = fresh.Read(100, 2 * kBlock);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), code);
    // The blocks are absent again, not cached and not stuck loading.
    EXPECT_EQ(cache().stats().loading_blocks, 0u);
    EXPECT_EQ(cache().stats().cached_blocks, 0u);
    ExpectRead(fresh, 100, 2 * kBlock, {Blocks(0, 2)});
  }
}

TEST_F(FileReaderTest, FailureMidRequestKeepsTheBlocksThatArrived) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 20000, 20));
  source_.FailNextFetches(1, Status(ErrorCode::kTransport, "connection reset"), kBlock + 100);
  Result<ReadBuffer> failed = reader.Read(0, 3 * kBlock);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kTransport);
  EXPECT_EQ(cache().stats().cached_blocks, 1u);
  ExpectRead(reader, 0, 3 * kBlock, {Blocks(1, 2)});
}

TEST_F(FileReaderTest, FailureWhenTheBlockIsNotTheFirstOfTheRead) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 20000, 21));
  ExpectRead(reader, 0, 1, {Blocks(0, 0)});
  source_.FailNextFetches(1, Status(ErrorCode::kHttpStatus, "HTTP 500"));
  Result<ReadBuffer> failed = reader.Read(0, 2 * kBlock);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kHttpStatus);
  ExpectRead(reader, 0, 2 * kBlock, {Blocks(1, 1)});
}

TEST_F(FileReaderTest, ReadsDoNotProbe) {
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10000, 22), SmallReadahead());
  ExpectBytes(reader, 0, 100);
  ExpectBytes(reader, 100, 5000);
  ExpectBytes(reader, 20000, 100);
  EXPECT_EQ(source_.probe_count(), 0u);
}

// --- Readahead ---

TEST_F(FileReaderTest, SequentialReadsPrefetchAheadAndThenHitTheCache) {
  FileReader& reader =
      Open(source_.AddSyntheticFile("https://h/f", 100 * kBlock, 23), SmallReadahead());
  ExpectBytes(reader, 0, kBlock);
  EXPECT_EQ(source_.fetch_count(FetchPriority::kPrefetch), 0u) << "one read is not a stream";
  ExpectBytes(reader, kBlock, kBlock);
  // The second sequential read: the initial window, blocks 2-5, as prefetches.
  EXPECT_EQ(source_.fetched_ranges(FetchPriority::kPrefetch),
            (std::vector<ByteRange>{Blocks(2, 3), Blocks(4, 5)}));  // 2 connections
  const size_t demand_before = source_.fetch_count(FetchPriority::kDemand);
  for (uint64_t index = 2; index < 6; ++index) ExpectBytes(reader, index * kBlock, kBlock);
  EXPECT_EQ(source_.fetch_count(FetchPriority::kDemand), demand_before)
      << "prefetched blocks must serve the reads";
  // Reading on, every prefetch starts where the previous one ended.
  for (uint64_t index = 6; index < 40; ++index) ExpectBytes(reader, index * kBlock, kBlock);
  uint64_t next = 2 * kBlock;
  for (const ByteRange& range : source_.fetched_ranges(FetchPriority::kPrefetch)) {
    EXPECT_EQ(range.first, next);
    next = range.last + 1;
  }
  EXPECT_EQ(source_.fetch_count(FetchPriority::kDemand), demand_before);
}

TEST_F(FileReaderTest, RandomReadsDoNotPrefetch) {
  FileReader& reader =
      Open(source_.AddSyntheticFile("https://h/f", 1000 * kBlock, 24), SmallReadahead());
  const uint64_t indexes[] = {500, 3, 900, 250, 700, 50, 999, 120};
  for (uint64_t index : indexes) {
    ExpectBytes(reader, index * kBlock + 7, 100);
  }
  EXPECT_EQ(source_.fetch_count(FetchPriority::kPrefetch), 0u);
}

TEST_F(FileReaderTest, ReadaheadDoesNotBlockTheReader) {
  OpenWithPendingPrefetches(25);  // fails the test if the second read waits for its readahead
  ASSERT_EQ(source_.pending_count(), 2u);
  EXPECT_EQ(source_.fetch_count(FetchPriority::kDemand), 2u);
  EXPECT_EQ(source_.CompleteAllPending(), 2u);
  EXPECT_EQ(cache().stats().loading_blocks, 0u);
}

TEST_F(FileReaderTest, ReaderOfABlockBeingPrefetchedWaitsForThatRequest) {
  FileReader& reader = OpenWithPendingPrefetches(26);
  ASSERT_EQ(source_.pending_count(), 2u);  // blocks 2-3 and 4-5
  const uint64_t misses = cache().stats().misses;

  std::thread waiting([&] { ExpectBytes(reader, 2 * kBlock + 10, 100); });
  EXPECT_TRUE(Eventually([&] { return cache().stats().misses > misses; }));
  EXPECT_TRUE(source_.CompletePending(0));
  waiting.join();
  EXPECT_EQ(source_.fetch_count(FetchPriority::kDemand), 2u) << "no second request for block 2";
  ReleaseAll();
}

TEST_F(FileReaderTest, ReaderWaitingForAPrefetchAsksToExpediteIt) {
  FileReader& reader = OpenWithPendingPrefetches(26);
  ASSERT_EQ(source_.pending_count(), 2u);  // blocks 2-3 and 4-5
  EXPECT_TRUE(source_.expedite_calls().empty())
      << "reads that fetched or found their own blocks expedite nothing";

  // A read of blocks 3 and 4, both loading in someone else's requests: one call for both.
  std::thread waiting([&] { ExpectBytes(reader, 3 * kBlock + 10, kBlock); });
  EXPECT_TRUE(Eventually([&] { return !source_.expedite_calls().empty(); }));
  source_.CompleteAllPending();
  waiting.join();
  EXPECT_EQ(source_.expedite_calls(),
            (std::vector<FetchCall>{{"https://h/f", Blocks(3, 4), FetchPriority::kDemand}}));

  // Everything cached now: nothing to expedite.
  source_.ResetCounters();
  ExpectBytes(reader, 2 * kBlock, 3 * kBlock);
  EXPECT_TRUE(source_.expedite_calls().empty());
  ReleaseAll();
}

TEST_F(FileReaderTest, FailedPrefetchLeavesTheBlocksToDemandReads) {
  FileReader& reader = OpenWithPendingPrefetches(27);
  ASSERT_EQ(source_.pending_count(), 2u);
  ASSERT_TRUE(source_.FinishPending(0, Status(ErrorCode::kTransport, "reset")));
  ASSERT_TRUE(source_.FinishPending(0, Status(ErrorCode::kTransport, "reset")));
  source_.DeferFetches(FetchPriority::kPrefetch, false);
  source_.ResetCounters();
  ExpectBytes(reader, 2 * kBlock, kBlock);
  EXPECT_EQ(source_.fetched_ranges(FetchPriority::kDemand), (std::vector<ByteRange>{Blocks(2, 2)}));
}

TEST_F(FileReaderTest, HandlesOfOneFileShareTheirReadahead) {
  const FileVersionPtr file = Version(source_.AddSyntheticFile("https://h/f", 100 * kBlock, 28));
  SharedReadahead& shared = readaheads_.emplace_back(SmallReadahead());
  FileReader& first = Open(file, shared);
  FileReader& second = Open(file, shared);
  ExpectBytes(first, 0, kBlock);
  ExpectBytes(second, kBlock, kBlock);  // continues the stream the other handle started
  EXPECT_EQ(source_.fetched_ranges(FetchPriority::kPrefetch),
            (std::vector<ByteRange>{Blocks(2, 3), Blocks(4, 5)}));
  ExpectBytes(first, 2 * kBlock, kBlock);
  ExpectBytes(second, 3 * kBlock, kBlock);
  EXPECT_EQ(source_.fetch_count(FetchPriority::kDemand), 2u);
}

TEST_F(FileReaderTest, HandlesWithTheirOwnReadaheadDoNotContinueEachOther) {
  // The control for the test above: the same reads through separate readahead states.
  const FileVersionPtr file = Version(source_.AddSyntheticFile("https://h/f", 100 * kBlock, 29));
  FileReader& first = Open(file, SmallReadahead());
  FileReader& second = Open(file, SmallReadahead());
  ExpectBytes(first, 0, kBlock);
  ExpectBytes(second, kBlock, kBlock);
  EXPECT_EQ(source_.fetch_count(FetchPriority::kPrefetch), 0u);
}

// --- Concurrency ---

TEST_F(FileReaderTest, ConcurrentReadersOfAMissingBlockShareOneRequest) {
  source_.DeferFetches(FetchPriority::kDemand);
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10000, 30));
  std::thread first([&] { ExpectBytes(reader, 0, 100); });
  std::thread second([&] { ExpectBytes(reader, 50, 100); });
  // Both missed, and the claimer has sent its request (a miss is counted before the request).
  EXPECT_TRUE(
      Eventually([&] { return cache().stats().misses == 2 && source_.pending_count() >= 1; }));
  EXPECT_EQ(source_.pending_calls(),
            (std::vector<FetchCall>{{"https://h/f", Blocks(0, 0), FetchPriority::kDemand}}));
  ReleaseAll();
  first.join();
  second.join();
  EXPECT_EQ(source_.fetch_count(), 1u);
}

TEST_F(FileReaderTest, OverlappingReadsRequestOnlyWhatNobodyIsLoading) {
  source_.DeferFetches(FetchPriority::kDemand);
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10 * kBlock, 31));
  std::thread first([&] { ExpectBytes(reader, 0, 3 * kBlock); });  // blocks 0-2
  EXPECT_TRUE(source_.WaitForPending(1));
  std::thread second([&] { ExpectBytes(reader, kBlock, 3 * kBlock); });  // blocks 1-3
  EXPECT_TRUE(source_.WaitForPending(2));
  EXPECT_EQ(source_.pending_calls(),
            (std::vector<FetchCall>{{"https://h/f", Blocks(0, 2), FetchPriority::kDemand},
                                    {"https://h/f", Blocks(3, 3), FetchPriority::kDemand}}));
  // Its own request answered, the second reader still needs the first one's.
  EXPECT_TRUE(source_.CompletePending(1));
  ReleaseAll();
  first.join();
  second.join();
  EXPECT_EQ(source_.fetch_count(), 2u);
}

TEST_F(FileReaderTest, FailureWakesEveryReaderWaitingForTheBlock) {
  source_.DeferFetches(FetchPriority::kDemand);
  FileReader& reader = Open(source_.AddSyntheticFile("https://h/f", 10000, 32));
  Result<ReadBuffer> first_result = Status(ErrorCode::kInternal, "not run");
  Result<ReadBuffer> second_result = Status(ErrorCode::kInternal, "not run");
  std::thread first([&] { first_result = reader.Read(0, 100); });
  std::thread second([&] { second_result = reader.Read(200, 100); });
  EXPECT_TRUE(
      Eventually([&] { return cache().stats().misses == 2 && source_.pending_count() >= 1; }));
  EXPECT_EQ(source_.pending_count(), 1u);
  EXPECT_TRUE(source_.FinishPending(0, Status(ErrorCode::kHttpStatus, "HTTP 502")));
  ReleaseAll();
  first.join();
  second.join();
  ASSERT_FALSE(first_result.ok());
  ASSERT_FALSE(second_result.ok());
  EXPECT_EQ(first_result.status().code(), ErrorCode::kHttpStatus);
  EXPECT_EQ(second_result.status().code(), ErrorCode::kHttpStatus);

  ExpectRead(reader, 0, 100, {Blocks(0, 0)});
}

TEST_F(FileReaderTest, ConcurrentReadsWithReadaheadAndEviction) {
  MakeStack(24 * kBlock, 3, 4 * kBlock);  // smaller than the file: blocks come and go
  constexpr uint64_t kSize = 64 * kBlock + 123;
  const FileVersionPtr file = Version(source_.AddSyntheticFile("https://h/f", kSize, 33));
  SharedReadahead& shared = readaheads_.emplace_back(SmallReadahead());
  constexpr int kThreads = 8;
  constexpr int kReadsPerThread = 60;
  std::vector<FileReader*> readers;
  for (int t = 0; t < kThreads; ++t) readers.push_back(&Open(file, shared));
  std::vector<int> bad_reads(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      FileReader& reader = *readers[static_cast<size_t>(t)];
      for (int i = 0; i < kReadsPerThread; ++i) {
        // Half the threads read sequentially, half jump around; some reads span EOF.
        const uint64_t offset =
            t % 2 == 0 ? (static_cast<uint64_t>(t) * 8 * kBlock + static_cast<uint64_t>(i) * 3000) %
                             (kSize + 10)
                       : (static_cast<uint64_t>(t) * 7919 + static_cast<uint64_t>(i) * 104729) %
                             (kSize + 10);
        const uint64_t size = 1 + static_cast<uint64_t>(i) * 997 % (3 * kBlock);
        Result<ReadBuffer> read = reader.Read(offset, size);
        const std::optional<ByteRange> range = ClampToFile(offset, size, kSize);
        if (!read.ok() || read->size() != (range ? range->length() : 0) ||
            (range && Flatten(*read) != source_.Content("https://h/f", *range))) {
          ++bad_reads[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(bad_reads[static_cast<size_t>(t)], 0) << t;
  EXPECT_EQ(cache().stats().loading_blocks, 0u);
  EXPECT_LE(cache().stats().cached_bytes, 24 * kBlock);
}

TEST_F(FileReaderTest, MetricsCountTheHandleItsReadsAndItsReadahead) {
  const RemoteFileInfo file = source_.AddSyntheticFile("https://h/f", 64 * kBlock, 3);
  Metrics metrics;
  SharedReadahead& readahead = readaheads_.emplace_back(SmallReadahead());
  const auto sample = [&metrics](const std::string& name) {
    for (const MetricFamily& family : CollectMetricFamilies(metrics, {}, 1)) {
      if (family.name == name) return family.samples.at(0).value;
    }
    return -1.0;
  };
  const auto windows = [&metrics] {
    for (const MetricFamily& family : CollectMetricFamilies(metrics, {}, 1)) {
      if (family.name == "rangefs_readahead_window_bytes") return family.histograms.at(0);
    }
    return HistogramSample{};
  };
  {
    FileReader reader(stack_->fetcher, stack_->prefetcher, readahead, versions_, Version(file), {},
                      &metrics);
    EXPECT_EQ(sample("rangefs_open_handles"), 1);
    // Two sequential reads: the second shows a stream, which gets its first window (4 blocks).
    ASSERT_TRUE(reader.Read(0, kBlock).ok());
    ASSERT_TRUE(reader.Read(kBlock, kBlock).ok());
    ASSERT_TRUE(reader.Read(64 * kBlock, kBlock).ok());  // at the end: nothing
    EXPECT_EQ(sample("rangefs_reads_total"), 3);
    EXPECT_EQ(sample("rangefs_read_bytes_total"), 2 * kBlock);
    EXPECT_EQ(sample("rangefs_read_errors_total"), 0);
    const HistogramSample window = windows();
    EXPECT_EQ(window.sum, 4 * kBlock);
    uint64_t observations = 0;
    for (const uint64_t count : window.bucket_counts) observations += count;
    EXPECT_EQ(observations, 1u);

    source_.FailNextFetches(1, Status(ErrorCode::kHttpStatus, "HTTP 404"));
    EXPECT_FALSE(reader.Read(40 * kBlock, 10).ok());
    EXPECT_EQ(sample("rangefs_read_errors_total"), 1);
    EXPECT_EQ(sample("rangefs_reads_total"), 4);
  }
  EXPECT_EQ(sample("rangefs_open_handles"), 0) << "a destroyed reader is a closed handle";
}

// --- How long a read waits ---

TEST_F(FileReaderTest, AReadWaitsNoLongerThanItsTimeoutAndTheLoadGoesOn) {
  const RemoteFileInfo file = source_.AddSyntheticFile("https://h/f", 10 * kBlock, 7);
  SharedReadahead& readahead = readaheads_.emplace_back(NoReadahead());
  FileReader reader(
      stack_->fetcher, stack_->prefetcher, readahead, versions_, Version(file), {}, nullptr,
      {.timeout = std::chrono::milliseconds(50), .failure_memory = std::chrono::hours(1)});
  source_.DeferAllFetches(true);  // a server that never answers
  Result<ReadBuffer> read = reader.Read(0, 100);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), ErrorCode::kTransport) << read.status().ToString();
  EXPECT_EQ(source_.pending_count(), 1u) << "the load goes on for later reads";

  // Read again at once (the kernel retrying a failed read): no second wait, no second request.
  source_.ResetCounters();
  EXPECT_TRUE(ReturnsWithoutAnswers([&] {
    Result<ReadBuffer> again = reader.Read(0, 100);
    EXPECT_FALSE(again.ok());
  })) << "the retry waited again";
  EXPECT_TRUE(source_.fetch_calls().empty());

  // Once the load has finished, the block is served even within the failure memory.
  ReleaseAll();
  ExpectBytes(reader, 0, 100);
}

TEST_F(FileReaderTest, ABlockThatJustFailedFailsTheNextReadAtOnceWithoutARequest) {
  const RemoteFileInfo file = source_.AddSyntheticFile("https://h/f", 10 * kBlock, 8);
  SharedReadahead& readahead = readaheads_.emplace_back(NoReadahead());
  FileReader reader(stack_->fetcher, stack_->prefetcher, readahead, versions_, Version(file), {},
                    nullptr, {.failure_memory = std::chrono::hours(1)});
  source_.FailNextFetches(1, Status(ErrorCode::kTransport, "connection reset"));
  Result<ReadBuffer> read = reader.Read(2 * kBlock, 100);
  ASSERT_FALSE(read.ok());

  source_.ResetCounters();
  Result<ReadBuffer> again = reader.Read(2 * kBlock + 50, 100);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), read.status().message());
  EXPECT_TRUE(source_.fetch_calls().empty()) << "the failed block was asked for again";
  EXPECT_EQ(cache().stats().loading_blocks, 0u) << "the replayed failure left a claim behind";

  // Other blocks are read as usual.
  ExpectRead(reader, 5 * kBlock, 100, {Blocks(5, 5)});
}

TEST_F(FileReaderTest, WithoutFailureMemoryAFailedBlockIsAskedForAgain) {
  const RemoteFileInfo file = source_.AddSyntheticFile("https://h/f", 10 * kBlock, 9);
  SharedReadahead& readahead = readaheads_.emplace_back(NoReadahead());
  FileReader reader(stack_->fetcher, stack_->prefetcher, readahead, versions_, Version(file), {},
                    nullptr, {.failure_memory = std::chrono::milliseconds(0)});
  source_.FailNextFetches(1, Status(ErrorCode::kTransport, "connection reset"));
  ASSERT_FALSE(reader.Read(2 * kBlock, 100).ok());
  ExpectRead(reader, 2 * kBlock, 100, {Blocks(2, 2)});
}

}  // namespace
}  // namespace rangefs
