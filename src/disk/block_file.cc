#include "disk/block_file.h"

#include <xxhash.h>

#include <array>
#include <cstring>

namespace rangefs::disk {
namespace {

constexpr std::array<char, 8> kMagic = {'r', 'a', 'n', 'g', 'e', 'f', 's', 'B'};
// magic, version, identity length, index, data length, data checksum.
constexpr size_t kFixedFields = 8 + 4 + 4 + 8 + 8 + 8;
constexpr size_t kHeaderChecksumSize = 8;
// An identity is a FileKey's one-line name; a length beyond this is garbage, not a URL.
constexpr uint32_t kMaxIdentity = 1 << 20;

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

}  // namespace

size_t BlockHeaderSize(std::string_view identity) {
  return kFixedFields + identity.size() + kHeaderChecksumSize;
}

uint64_t DataChecksum(std::span<const std::byte> data) {
  return Checksum(data.data(), data.size());
}

std::string EncodeBlockHeader(std::string_view identity, uint64_t index,
                              std::span<const std::byte> data) {
  std::string header;
  header.reserve(BlockHeaderSize(identity));
  header.append(kMagic.data(), kMagic.size());
  PutLe(header, kBlockFormatVersion, 4);
  PutLe(header, identity.size(), 4);
  PutLe(header, index, 8);
  PutLe(header, data.size(), 8);
  PutLe(header, DataChecksum(data), 8);
  header.append(identity);
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
  if (identity_length > kMaxIdentity) return {BlockCheck::kBadHeaderChecksum, std::nullopt};
  const size_t checked = kFixedFields + static_cast<size_t>(identity_length);
  if (bytes.size() < checked + kHeaderChecksumSize) return {BlockCheck::kTruncated, std::nullopt};
  if (GetLe(bytes, checked, 8) != Checksum(bytes.data(), checked)) {
    return {BlockCheck::kBadHeaderChecksum, std::nullopt};
  }
  BlockHeader header;
  header.index = GetLe(bytes, 16, 8);
  header.length = GetLe(bytes, 24, 8);
  header.data_checksum = GetLe(bytes, 32, 8);
  header.identity.assign(reinterpret_cast<const char*>(bytes.data() + kFixedFields),
                         static_cast<size_t>(identity_length));
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
  if (DataChecksum(data) != h.data_checksum) return BlockCheck::kBadDataChecksum;
  return BlockCheck::kValid;
}

}  // namespace rangefs::disk
