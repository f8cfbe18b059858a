#include "rangefs/file_reader.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fakes/memory_range_source.h"
#include "fakes/printers.h"

namespace rangefs {
namespace {

using fakes::FetchCall;
using fakes::MemoryRangeSource;

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

std::vector<std::byte> Head(const std::vector<std::byte>& bytes, size_t count) {
  return std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(count));
}

std::vector<std::byte> Bytes(std::string_view text) {
  std::vector<std::byte> bytes;
  for (char c : text) bytes.push_back(static_cast<std::byte>(c));
  return bytes;
}

class FileReaderTest : public ::testing::Test {
 protected:
  // Reads `size` bytes at `offset` and checks the count, the bytes and that exactly one fetch of
  // exactly the clamped range was made (none when nothing is to be read).
  void ExpectRead(FileReader& reader, uint64_t offset, size_t size) {
    SCOPED_TRACE(::testing::Message() << "offset=" << offset << " size=" << size);
    const RemoteFileInfo& file = reader.file();
    const std::optional<ByteRange> expected_range = ClampToFile(offset, size, file.size);
    source_.ResetCounters();

    std::vector<std::byte> buffer(size, std::byte{0xEE});
    Result<size_t> read = reader.Read(offset, buffer);
    ASSERT_TRUE(read.ok()) << read.status().ToString();

    if (!expected_range) {
      EXPECT_EQ(*read, 0u);
      EXPECT_EQ(source_.fetch_count(), 0u);
      return;
    }
    ASSERT_EQ(*read, expected_range->length());
    EXPECT_EQ(source_.fetch_calls(), (std::vector<FetchCall>{{file.url, *expected_range}}));
    EXPECT_TRUE(Head(buffer, *read) == source_.Content(file.url, *expected_range)) << "wrong bytes";
  }

  MemoryRangeSource source_;
};

TEST_F(FileReaderTest, ReadAtStart) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/f", 1000, 1));
  std::vector<std::byte> buffer(100);
  Result<size_t> read = reader.Read(0, buffer);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, 100u);
  EXPECT_EQ(source_.fetched_ranges(), (std::vector<ByteRange>{{0, 99}}));
  EXPECT_TRUE(buffer == source_.Content("https://h/f", {0, 99}));
}

TEST_F(FileReaderTest, ReadInTheMiddle) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/f", 1000, 1));
  ExpectRead(reader, 100, 200);
  ExpectRead(reader, 1, 1);
  ExpectRead(reader, 999, 1);
}

TEST_F(FileReaderTest, ReadSpanningEofReturnsShortCount) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/f", 1000, 2));
  std::vector<std::byte> buffer(100);
  Result<size_t> read = reader.Read(950, buffer);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, 50u);
  EXPECT_EQ(source_.fetched_ranges(), (std::vector<ByteRange>{{950, 999}}));
  EXPECT_TRUE(Head(buffer, 50) == source_.Content("https://h/f", {950, 999}));
}

TEST_F(FileReaderTest, ReadEndingExactlyAtEof) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/f", 1000, 3));
  ExpectRead(reader, 900, 100);
  ExpectRead(reader, 0, 1000);
  ExpectRead(reader, 0, 4096);
}

TEST_F(FileReaderTest, ReadAtOrPastEofReturnsZeroWithoutFetching) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/f", 1000, 4));
  for (uint64_t offset : {uint64_t{1000}, uint64_t{1001}, 5 * kGiB, kMax - 1, kMax}) {
    SCOPED_TRACE(::testing::Message() << "offset=" << offset);
    std::vector<std::byte> buffer(4096);
    Result<size_t> read = reader.Read(offset, buffer);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(*read, 0u);
  }
  EXPECT_EQ(source_.fetch_count(), 0u);
}

TEST_F(FileReaderTest, EmptyBufferReadsNothing) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/f", 1000, 5));
  Result<size_t> read = reader.Read(10, std::span<std::byte>());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, 0u);
  EXPECT_EQ(source_.fetch_count(), 0u);
}

TEST_F(FileReaderTest, ZeroLengthFile) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/empty", 0, 6));
  for (uint64_t offset : {uint64_t{0}, uint64_t{1}, 4 * kGiB}) {
    std::vector<std::byte> buffer(4096);
    Result<size_t> read = reader.Read(offset, buffer);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(*read, 0u);
  }
  EXPECT_EQ(source_.fetch_count(), 0u);
}

TEST_F(FileReaderTest, ExplicitContent) {
  FileReader reader(source_, source_.AddFile("https://h/hello", "hello, world"));
  std::vector<std::byte> buffer(100);
  Result<size_t> read = reader.Read(7, buffer);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(*read, 5u);
  EXPECT_TRUE(Head(buffer, 5) == Bytes("world"));
  EXPECT_EQ(source_.fetched_ranges(), (std::vector<ByteRange>{{7, 11}}));
}

TEST_F(FileReaderTest, OffsetsAbove4GiB) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/big", 5 * kGiB, 7));
  ExpectRead(reader, 4 * kGiB, 4096);
  ExpectRead(reader, 4 * kGiB + 12345, 131072);
  // Crosses 2^32: a 32-bit truncation anywhere shows up here.
  ExpectRead(reader, 4 * kGiB - 512, 1024);
  ExpectRead(reader, 5 * kGiB - 4096, 4096);  // ends exactly at EOF
  ExpectRead(reader, 5 * kGiB - 100, 4096);   // spans EOF
  ExpectRead(reader, 5 * kGiB - 1, 1);
  ExpectRead(reader, 5 * kGiB, 4096);  // at EOF: no fetch
  ExpectRead(reader, 6 * kGiB, 4096);  // past EOF: no fetch
}

TEST_F(FileReaderTest, FetchesExactlyTheClampedRange) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/f", 10000, 8));
  const struct {
    uint64_t offset;
    size_t size;
  } cases[] = {{0, 1},       {0, 4096},  {1, 4095},  {4095, 2},     {5000, 5000},
               {5000, 5001}, {9999, 1},  {9999, 2},  {0, 10000},    {0, 10001},
               {123, 65536}, {10000, 1}, {10001, 1}, {9000, 131072}};
  for (const auto& c : cases) ExpectRead(reader, c.offset, c.size);
}

TEST_F(FileReaderTest, ReadsTheFileItWasGiven) {
  source_.AddSyntheticFile("https://h/other", 1000, 100);
  FileReader reader(source_, source_.AddSyntheticFile("https://h/mine", 1000, 101));
  EXPECT_EQ(reader.file().url, "https://h/mine");
  EXPECT_EQ(reader.file().size, 1000u);
  ExpectRead(reader, 10, 20);
  EXPECT_EQ(source_.fetch_calls().at(0).url, "https://h/mine");
}

TEST_F(FileReaderTest, ReadsDoNotProbe) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/f", 1000, 9));
  ExpectRead(reader, 0, 100);
  ExpectRead(reader, 2000, 100);
  EXPECT_EQ(source_.probe_count(), 0u);
}

TEST_F(FileReaderTest, SizeIsPinnedAtOpen) {
  const RemoteFileInfo old_version = source_.AddSyntheticFile("https://h/f", 1000, 10);
  FileReader reader(source_, old_version);
  // The remote file grows; the reader still serves the version it was opened on.
  source_.AddSyntheticFile("https://h/f", 2000, 11);
  std::vector<std::byte> buffer(100);
  Result<size_t> read = reader.Read(1000, buffer);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, 0u);
  EXPECT_EQ(source_.fetch_count(), 0u);
  EXPECT_EQ(reader.file().size, 1000u);
}

TEST_F(FileReaderTest, FetchFailuresPropagateWithTheSameCode) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/f", 1000, 12));
  for (ErrorCode code :
       {ErrorCode::kTransport, ErrorCode::kHttpStatus, ErrorCode::kRangeNotSupported,
        ErrorCode::kRangeNotSatisfiable, ErrorCode::kProtocolViolation, ErrorCode::kInternal}) {
    SCOPED_TRACE(::testing::Message() << "code " << ErrorCodeName(code));
    // Every fetch fails, so a reader that retries still ends with this error.
    source_.FailAllFetches(Status(code, "scripted failure"));
    std::vector<std::byte> buffer(100);
    Result<size_t> read = reader.Read(0, buffer);
    ASSERT_FALSE(read.ok()) << "read " << *read << " bytes";
    EXPECT_EQ(read.status().code(), code);
    EXPECT_GE(source_.fetch_count(), 1u);
    source_.ClearFailures();
    source_.ResetCounters();
  }
}

TEST_F(FileReaderTest, FailureIsNotSticky) {
  FileReader reader(source_, source_.AddSyntheticFile("https://h/f", 1000, 13));
  source_.FailAllFetches(Status(ErrorCode::kTransport, "connection reset"));
  std::vector<std::byte> buffer(100);
  Result<size_t> failed = reader.Read(0, buffer);
  ASSERT_FALSE(failed.ok());
  source_.ClearFailures();
  ExpectRead(reader, 0, 100);
}

TEST_F(FileReaderTest, FailureOfAFileThatVanishedPropagates) {
  RemoteFileInfo info = source_.AddSyntheticFile("https://h/f", 1000, 14);
  info.url = "https://h/gone";  // the fake answers 404 for it
  info.final_url = info.url;
  FileReader reader(source_, info);
  std::vector<std::byte> buffer(10);
  Result<size_t> read = reader.Read(0, buffer);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), ErrorCode::kHttpStatus);
}

TEST_F(FileReaderTest, ConcurrentReadsOnOneReader) {
  constexpr uint64_t kSize = 1 << 20;
  FileReader reader(source_, source_.AddSyntheticFile("https://h/f", kSize, 15));
  constexpr int kThreads = 8;
  constexpr int kReadsPerThread = 50;
  std::vector<int> bad_reads(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kReadsPerThread; ++i) {
        // Offsets spread over the file, some spanning EOF.
        const uint64_t offset =
            (static_cast<uint64_t>(t) * 7919 + static_cast<uint64_t>(i) * 104729) % (kSize + 10);
        const size_t size = 1 + static_cast<size_t>(i) * 97 % 8192;
        std::vector<std::byte> buffer(size);
        Result<size_t> read = reader.Read(offset, buffer);
        const std::optional<ByteRange> range = ClampToFile(offset, size, kSize);
        const uint64_t want = range ? range->length() : 0;
        if (!read.ok() || *read != want ||
            (range && Head(buffer, *read) != source_.Content("https://h/f", *range))) {
          ++bad_reads[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(bad_reads[static_cast<size_t>(t)], 0) << t;
}

}  // namespace
}  // namespace rangefs
