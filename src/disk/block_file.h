// The on-disk format of one cached block: a header naming the block and holding checksums,
// then the block's bytes. Pure: encodes and checks bytes, touches no file.
//
// Layout (integers little-endian):
//   offset  size  field
//        0     8  magic "rangefsB"
//        8     4  format version (kBlockFormatVersion)
//       12     4  identity length n (bytes of the FileKey's ToString())
//       16     8  block index
//       24     8  data length (bytes after the header)
//       32     8  XXH3-64 of the data
//       40     n  identity (FileKey::ToString())
//     40+n     8  XXH3-64 of the header's first 40+n bytes
//     48+n        data
// A file is a valid block of (identity, index, length) exactly when it is BlockHeaderSize +
// length bytes long, its header parses and its checksum matches, it names that identity, index
// and length, and its data has the checksum the header holds. Anything else (truncated, torn,
// renamed, garbage) is not valid and is never served.
//
// Thread-safety: free functions over values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rangefs::disk {

inline constexpr uint32_t kBlockFormatVersion = 1;

// Bytes of the header of a block whose identity is `identity`.
size_t BlockHeaderSize(std::string_view identity);

// XXH3-64 of `data`, the data checksum the header holds.
uint64_t DataChecksum(std::span<const std::byte> data);

// The header of block `index` of `identity` whose bytes are `data`.
std::string EncodeBlockHeader(std::string_view identity, uint64_t index,
                              std::span<const std::byte> data);

// What a header says, once its magic, version and checksum are right.
struct BlockHeader {
  std::string identity;
  uint64_t index = 0;
  uint64_t length = 0;
  uint64_t data_checksum = 0;
  size_t size = 0;  // bytes of the header itself
};

enum class BlockCheck {
  kValid,
  kTruncated,          // shorter than the header or its data claim
  kBadMagic,           // not a rangefs block file
  kOtherVersion,       // a block of another format version
  kBadHeaderChecksum,  // the header was torn or altered
  kOtherBlock,         // a valid block of another identity, index or length
  kBadDataChecksum,    // the bytes were torn or altered
};

// "truncated", "bad header checksum", ...: for logs and test messages.
const char* BlockCheckName(BlockCheck check);

// The header at the start of `bytes` (which may hold more than the header), or the reason it
// is not one.
struct ParsedHeader {
  BlockCheck check = BlockCheck::kValid;
  std::optional<BlockHeader> header;  // set when check == kValid
};
ParsedHeader ParseBlockHeader(std::span<const std::byte> bytes);

// Checks a block read as `header` (exactly BlockHeaderSize(identity) bytes: the reader knows
// the size from the identity it expects) and `data` (exactly the expected length) against the
// block it should be.
BlockCheck VerifyBlock(std::span<const std::byte> header, std::span<const std::byte> data,
                       std::string_view identity, uint64_t index);

}  // namespace rangefs::disk
