#include <gtest/gtest.h>

#include <cstddef>
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
  ASSERT_EQ(header.size(), BlockHeaderSize(kIdentity));
  EXPECT_EQ(VerifyBlock(header, data, kIdentity, 17), BlockCheck::kValid);

  const ParsedHeader parsed = ParseBlockHeader(header);
  ASSERT_EQ(parsed.check, BlockCheck::kValid);
  EXPECT_EQ(parsed.header->identity, kIdentity);
  EXPECT_EQ(parsed.header->index, 17u);
  EXPECT_EQ(parsed.header->length, 4096u);
  EXPECT_EQ(parsed.header->data_checksum, DataChecksum(data));
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
  header[8] = std::byte{2};
  EXPECT_EQ(ParseBlockHeader(header).check, BlockCheck::kOtherVersion);
}

}  // namespace
}  // namespace rangefs::disk
