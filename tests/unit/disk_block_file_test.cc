#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "disk/block_file.h"

namespace rangefs::disk {
namespace {

const std::string kIdentity = "https://h/f.iso 1048576 etag \"5f-1a\" block 4096";

std::vector<std::byte> Data(size_t size, int seed) {
  std::vector<std::byte> data(size);
  for (size_t i = 0; i < size; ++i)
    data[i] = std::byte(static_cast<uint8_t>(i * 7 + static_cast<size_t>(seed)));
  return data;
}

std::vector<std::byte> Bytes(const std::string& text) {
  const auto* begin = reinterpret_cast<const std::byte*>(text.data());
  return {begin, begin + text.size()};
}

TEST(DiskBlockFile, RoundTrip) {
  const std::vector<std::byte> data = Data(4096, 3);
  const std::vector<std::byte> header = Bytes(EncodeBlockHeader(kIdentity, 17, data));
  ASSERT_EQ(header.size(), BlockHeaderSize(kIdentity, data.size()));
  EXPECT_EQ(VerifyBlock(header, data, kIdentity, 17), BlockCheck::kValid);

  const ParsedHeader parsed = ParseBlockHeader(header);
  ASSERT_EQ(parsed.check, BlockCheck::kValid);
  EXPECT_EQ(parsed.header->identity, kIdentity);
  EXPECT_EQ(parsed.header->index, 17u);
  EXPECT_EQ(parsed.header->length, 4096u);
  EXPECT_EQ(parsed.header->chunk_size, kChunkSize);
  EXPECT_EQ(parsed.header->chunk_checksums.size(), 1u);
  EXPECT_EQ(parsed.header->size, header.size());
}

TEST(DiskBlockFile, EmptyBlockRoundTrips) {
  const std::vector<std::byte> none;
  const std::vector<std::byte> header = Bytes(EncodeBlockHeader(kIdentity, 0, none));
  EXPECT_EQ(VerifyBlock(header, none, kIdentity, 0), BlockCheck::kValid);
}

TEST(DiskBlockFile, EveryFlippedHeaderByteIsCaught) {
  const std::vector<std::byte> data = Data(100, 1);
  const std::vector<std::byte> header = Bytes(EncodeBlockHeader(kIdentity, 2, data));
  for (size_t i = 0; i < header.size(); ++i) {
    std::vector<std::byte> bad = header;
    bad[i] ^= std::byte{0x01};
    EXPECT_NE(VerifyBlock(bad, data, kIdentity, 2), BlockCheck::kValid) << "byte " << i;
  }
}

TEST(DiskBlockFile, FlippedDataByteIsABadDataChecksum) {
  const std::vector<std::byte> data = Data(4096, 9);
  const std::vector<std::byte> header = Bytes(EncodeBlockHeader(kIdentity, 5, data));
  for (size_t i : {size_t{0}, size_t{2048}, size_t{4095}}) {
    std::vector<std::byte> bad = data;
    bad[i] ^= std::byte{0x80};
    EXPECT_EQ(VerifyBlock(header, bad, kIdentity, 5), BlockCheck::kBadDataChecksum);
  }
}

TEST(DiskBlockFile, AnotherIdentityIndexOrLengthIsAnotherBlock) {
  const std::vector<std::byte> data = Data(64, 4);
  const std::vector<std::byte> header = Bytes(EncodeBlockHeader(kIdentity, 5, data));
  EXPECT_EQ(VerifyBlock(header, data, kIdentity, 6), BlockCheck::kOtherBlock);
  // Same length of identity, another version: the identity itself is compared.
  std::string other = kIdentity;
  other[other.size() - 1] = '5';
  EXPECT_EQ(VerifyBlock(header, data, other, 5), BlockCheck::kOtherBlock);
  const std::vector<std::byte> shorter(data.begin(), data.end() - 1);
  EXPECT_EQ(VerifyBlock(header, shorter, kIdentity, 5), BlockCheck::kOtherBlock);
}

TEST(DiskBlockFile, TruncatedHeadersAreNotValidAtAnyLength) {
  const std::vector<std::byte> data = Data(10, 0);
  const std::vector<std::byte> header = Bytes(EncodeBlockHeader(kIdentity, 1, data));
  for (size_t size = 0; size < header.size(); ++size) {
    const std::span<const std::byte> cut(header.data(), size);
    EXPECT_NE(ParseBlockHeader(cut).check, BlockCheck::kValid) << size;
    EXPECT_NE(VerifyBlock(cut, data, kIdentity, 1), BlockCheck::kValid) << size;
  }
  EXPECT_EQ(ParseBlockHeader(std::span(header.data(), 20)).check, BlockCheck::kTruncated);
}

TEST(DiskBlockFile, GarbageIsNotABlock) {
  EXPECT_EQ(ParseBlockHeader(Bytes("<html>not a block at all, just a page</html>")).check,
            BlockCheck::kBadMagic);
  // The magic followed by garbage, including a huge identity length.
  std::vector<std::byte> garbage = Bytes("rangefsB");
  garbage.resize(200, std::byte{0xFF});
  EXPECT_NE(ParseBlockHeader(garbage).check, BlockCheck::kValid);
  std::vector<std::byte> zeros = Bytes("rangefsB");
  zeros.resize(200, std::byte{0});
  EXPECT_NE(ParseBlockHeader(zeros).check, BlockCheck::kValid);
}

TEST(DiskBlockFile, AnotherFormatVersionIsNamed) {
  const std::vector<std::byte> data = Data(10, 0);
  std::vector<std::byte> header = Bytes(EncodeBlockHeader(kIdentity, 1, data));
  header[8] = std::byte{1};  // the format before chunk checksums
  EXPECT_EQ(ParseBlockHeader(header).check, BlockCheck::kOtherVersion);
}

// Bytes that do not repeat from one chunk to the next (Data's pattern does).
std::vector<std::byte> Random(size_t size) {
  std::mt19937_64 random(42);
  std::vector<std::byte> data(size);
  for (std::byte& b : data) b = std::byte(static_cast<uint8_t>(random()));
  return data;
}

// A 256 KiB block and the chunks a small read of it needs.
class DiskBlockChunks : public testing::Test {
 protected:
  static constexpr uint64_t kLength = 256 * 1024;
  const std::vector<std::byte> data_ = Random(kLength);
  const std::vector<std::byte> header_ = Bytes(EncodeBlockHeader(kIdentity, 3, data_));

  std::span<const std::byte> ChunksOf(const ChunkRun& run) const {
    return std::span(data_).subspan(run.offset, run.length);
  }
};

TEST_F(DiskBlockChunks, ASmallReadNeedsTheChunksAroundIt) {
  const ChunkRun page = ChunksCovering(kLength, 20000, 24096);
  EXPECT_EQ(page.first_chunk, 1u);
  EXPECT_EQ(page.offset, kChunkSize);
  EXPECT_EQ(page.length, kChunkSize);
  const ChunkRun straddling = ChunksCovering(kLength, kChunkSize - 1, kChunkSize + 1);
  EXPECT_EQ(straddling.first_chunk, 0u);
  EXPECT_EQ(straddling.length, 2 * kChunkSize);
  const ChunkRun whole = ChunksCovering(kLength, 0, kLength);
  EXPECT_EQ(whole.length, kLength);
}

TEST_F(DiskBlockChunks, TheLastChunkOfAShortBlockIsShort) {
  const std::vector<std::byte> data = Data(kChunkSize + 100, 1);
  const std::vector<std::byte> header = Bytes(EncodeBlockHeader(kIdentity, 0, data));
  const ChunkRun tail = ChunksCovering(data.size(), kChunkSize + 50, kChunkSize + 60);
  EXPECT_EQ(tail.offset, kChunkSize);
  EXPECT_EQ(tail.length, 100u);
  EXPECT_EQ(VerifyChunks(header, kIdentity, 0, data.size(), tail,
                         std::span(data).subspan(tail.offset, tail.length)),
            BlockCheck::kValid);
}

TEST_F(DiskBlockChunks, ChunksVerifyAloneAndAFlippedByteInThemDoesNot) {
  const ChunkRun run = ChunksCovering(kLength, 5 * kChunkSize + 10, 7 * kChunkSize + 10);
  ASSERT_EQ(run.length, 3 * kChunkSize);
  EXPECT_EQ(VerifyChunks(header_, kIdentity, 3, kLength, run, ChunksOf(run)), BlockCheck::kValid);
  for (const uint64_t at : {uint64_t{0}, uint64_t{kChunkSize}, run.length - 1}) {
    std::vector<std::byte> bad(ChunksOf(run).begin(), ChunksOf(run).end());
    bad[at] ^= std::byte{0x10};
    EXPECT_EQ(VerifyChunks(header_, kIdentity, 3, kLength, run, bad), BlockCheck::kBadDataChecksum)
        << at;
  }
}

TEST_F(DiskBlockChunks, ChunksOfAnotherPlaceOrBlockAreNotValid) {
  const ChunkRun run = ChunksCovering(kLength, 0, 100);
  const ChunkRun next = ChunksCovering(kLength, kChunkSize, kChunkSize + 100);
  // The bytes of chunk 1 offered as chunk 0: a misplaced read.
  EXPECT_EQ(VerifyChunks(header_, kIdentity, 3, kLength, run, ChunksOf(next)),
            BlockCheck::kBadDataChecksum);
  EXPECT_EQ(VerifyChunks(header_, kIdentity, 4, kLength, run, ChunksOf(run)),
            BlockCheck::kOtherBlock);
  EXPECT_EQ(VerifyChunks(header_, "another", 3, kLength, run, ChunksOf(run)),
            BlockCheck::kOtherBlock);
  EXPECT_EQ(VerifyChunks(header_, kIdentity, 3, kLength - 1, run, ChunksOf(run)),
            BlockCheck::kOtherBlock);
}

TEST_F(DiskBlockChunks, AHeaderWhoseChunkCountDoesNotFitItsLengthIsNotParsed) {
  std::vector<std::byte> header = header_;
  header[36] = std::byte{0x11};  // chunk count 17 for a block of 16 chunks
  EXPECT_NE(ParseBlockHeader(header).check, BlockCheck::kValid);
}

}  // namespace
}  // namespace rangefs::disk
