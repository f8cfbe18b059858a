#include "disk/block_file.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace rangefs::disk {
namespace {

constexpr std::array<char, 8> kMagic = {'r', 'a', 'n', 'g', 'e', 'f', 's', 'B'};
// magic, version, identity length, index, data length, chunk size, chunk count.
constexpr size_t kFixedFields = 8 + 4 + 4 + 8 + 8 + 4 + 4;
constexpr size_t kHeaderChecksumSize = 8;
// An identity is a FileKey's one-line name; a length beyond this is garbage, not a URL.
constexpr uint32_t kMaxIdentity = 1 << 20;
// A block is at most 64 MiB (--block-size): 4096 chunks of 16 KiB. A count beyond this bound
// is garbage, and the bound keeps such a header from asking for more than 512 KiB of checksums.
constexpr uint64_t kMaxChunks = 1 << 16;

void PutLe(std::string& out, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

uint64_t GetLe(std::span<const std::byte> bytes, size_t offset, size_t size) {
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i) {
    value |= uint64_t{std::to_integer<uint8_t>(bytes[offset + i])} << (8 * i);
  }
  return value;
}

uint64_t Checksum(const void* data, size_t size) { return XXH3_64bits(data, size); }

uint64_t ChunkCount(uint64_t length, uint64_t chunk_size) {
  return (length + chunk_size - 1) / chunk_size;
}

// Whether `chunks` (the bytes of chunks first, first + 1, ...) match the header's checksums.
bool ChunksMatch(const BlockHeader& header, uint64_t first, std::span<const std::byte> chunks) {
  for (size_t at = 0; at < chunks.size(); at += header.chunk_size, ++first) {
    const size_t size = std::min<size_t>(header.chunk_size, chunks.size() - at);
    if (first >= header.chunk_checksums.size() ||
        Checksum(chunks.data() + at, size) != header.chunk_checksums[first]) {
      return false;
    }
  }
  return true;
}

}  // namespace

size_t BlockHeaderSize(std::string_view identity, uint64_t length) {
  return kFixedFields + identity.size() + 8 * ChunkCount(length, kChunkSize) + kHeaderChecksumSize;
}

ChunkRun ChunksCovering(uint64_t length, uint64_t from, uint64_t to) {
  const uint64_t first = from / kChunkSize;
  const uint64_t end = std::min(length, (to + kChunkSize - 1) / kChunkSize * kChunkSize);
  return {first, first * kChunkSize, end - first * kChunkSize};
}

std::string EncodeBlockHeader(std::string_view identity, uint64_t index,
                              std::span<const std::byte> data) {
  std::string header;
  header.reserve(BlockHeaderSize(identity, data.size()));
  header.append(kMagic.data(), kMagic.size());
  PutLe(header, kBlockFormatVersion, 4);
  PutLe(header, identity.size(), 4);
  PutLe(header, index, 8);
  PutLe(header, data.size(), 8);
  PutLe(header, kChunkSize, 4);
  PutLe(header, ChunkCount(data.size(), kChunkSize), 4);
  header.append(identity);
  for (size_t at = 0; at < data.size(); at += kChunkSize) {
    PutLe(header, Checksum(data.data() + at, std::min<size_t>(kChunkSize, data.size() - at)), 8);
  }
  PutLe(header, Checksum(header.data(), header.size()), 8);
  return header;
}

const char* BlockCheckName(BlockCheck check) {
  switch (check) {
    case BlockCheck::kValid:
      return "valid";
    case BlockCheck::kTruncated:
      return "truncated";
    case BlockCheck::kBadMagic:
      return "not a block file";
    case BlockCheck::kOtherVersion:
      return "another format version";
    case BlockCheck::kBadHeaderChecksum:
      return "bad header checksum";
    case BlockCheck::kOtherBlock:
      return "another block";
    case BlockCheck::kBadDataChecksum:
      return "bad data checksum";
  }
  return "unknown";
}

ParsedHeader ParseBlockHeader(std::span<const std::byte> bytes) {
  if (bytes.size() < kMagic.size()) return {BlockCheck::kTruncated, std::nullopt};
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    return {BlockCheck::kBadMagic, std::nullopt};
  }
  if (bytes.size() < kFixedFields) return {BlockCheck::kTruncated, std::nullopt};
  if (GetLe(bytes, 8, 4) != kBlockFormatVersion) return {BlockCheck::kOtherVersion, std::nullopt};
  const uint64_t identity_length = GetLe(bytes, 12, 4);
  const uint64_t length = GetLe(bytes, 24, 8);
  const uint64_t chunk_size = GetLe(bytes, 32, 4);
  const uint64_t chunk_count = GetLe(bytes, 36, 4);
  // Fields that do not fit together are garbage (or a torn header): never trusted for sizes.
  if (identity_length > kMaxIdentity || chunk_size == 0 ||
      chunk_count != ChunkCount(length, chunk_size) || chunk_count > kMaxChunks) {
    return {BlockCheck::kBadHeaderChecksum, std::nullopt};
  }
  const size_t checked =
      kFixedFields + static_cast<size_t>(identity_length) + 8 * static_cast<size_t>(chunk_count);
  if (bytes.size() < checked + kHeaderChecksumSize) return {BlockCheck::kTruncated, std::nullopt};
  if (GetLe(bytes, checked, 8) != Checksum(bytes.data(), checked)) {
    return {BlockCheck::kBadHeaderChecksum, std::nullopt};
  }
  BlockHeader header;
  header.index = GetLe(bytes, 16, 8);
  header.length = length;
  header.chunk_size = static_cast<uint32_t>(chunk_size);
  header.identity.assign(reinterpret_cast<const char*>(bytes.data() + kFixedFields),
                         static_cast<size_t>(identity_length));
  const size_t checksums = kFixedFields + static_cast<size_t>(identity_length);
  header.chunk_checksums.reserve(static_cast<size_t>(chunk_count));
  for (size_t i = 0; i < chunk_count; ++i) {
    header.chunk_checksums.push_back(GetLe(bytes, checksums + 8 * i, 8));
  }
  header.size = checked + kHeaderChecksumSize;
  return {BlockCheck::kValid, std::move(header)};
}

BlockCheck VerifyBlock(std::span<const std::byte> header, std::span<const std::byte> data,
                       std::string_view identity, uint64_t index) {
  const ParsedHeader parsed = ParseBlockHeader(header);
  if (parsed.check != BlockCheck::kValid) return parsed.check;
  const BlockHeader& h = *parsed.header;
  if (h.size != header.size() || h.identity != identity || h.index != index ||
      h.length != data.size()) {
    return BlockCheck::kOtherBlock;
  }
  if (!ChunksMatch(h, 0, data)) return BlockCheck::kBadDataChecksum;
  return BlockCheck::kValid;
}

BlockCheck VerifyChunks(std::span<const std::byte> header, std::string_view identity,
                        uint64_t index, uint64_t length, const ChunkRun& run,
                        std::span<const std::byte> chunks) {
  const ParsedHeader parsed = ParseBlockHeader(header);
  if (parsed.check != BlockCheck::kValid) return parsed.check;
  const BlockHeader& h = *parsed.header;
  if (h.size != header.size() || h.identity != identity || h.index != index || h.length != length ||
      h.chunk_size != kChunkSize || run.length != chunks.size() ||
      run.offset != run.first_chunk * kChunkSize || run.offset + run.length > length) {
    return BlockCheck::kOtherBlock;
  }
  if (!ChunksMatch(h, run.first_chunk, chunks)) return BlockCheck::kBadDataChecksum;
  return BlockCheck::kValid;
}

}  // namespace rangefs::disk
