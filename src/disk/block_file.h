// The on-disk format of one cached block: a header naming the block and holding checksums,
// then the block's bytes. Pure: encodes and checks bytes, touches no file.
//
// Layout (integers little-endian):
//   offset  size  field
//        0     8  magic "rangefsB"
//        8     4  format version (kBlockFormatVersion)
//       12     4  identity length n (bytes of the FileKey's ToString())
//       16     8  block index
//       24     8  data length L (bytes after the header)
//       32     4  chunk size c (kChunkSize when written)
//       36     4  chunk count k = ceil(L / c)
//       40     n  identity (FileKey::ToString())
//     40+n    8k  XXH3-64 of each chunk of c data bytes (the last may be shorter)
//  40+n+8k     8  XXH3-64 of the header's bytes before it
//  48+n+8k        data
// The data is checked chunk by chunk so that a small read can load and verify only the chunks
// it needs (a 4 KiB page of a database costs one 16 KiB chunk, not a 256 KiB block).
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
#include <vector>

namespace rangefs::disk {

// Version 1 held one checksum of the whole data; its blocks read as kOtherVersion (a miss: the
// block is fetched again and rewritten in this format).
inline constexpr uint32_t kBlockFormatVersion = 2;
inline constexpr uint32_t kChunkSize = 16 * 1024;

// Bytes of the header of a block of `length` data bytes whose identity is `identity`.
size_t BlockHeaderSize(std::string_view identity, uint64_t length);

// The chunks of a block of `length` bytes that hold bytes [from, to) of its data: the part
// of the data a reader of those bytes loads and checks.
struct ChunkRun {
  uint64_t first_chunk = 0;
  uint64_t offset = 0;  // of the first chunk's first byte in the data
  uint64_t length = 0;  // bytes of the chunks together
};
// REQUIRES: from < to <= length.
ChunkRun ChunksCovering(uint64_t length, uint64_t from, uint64_t to);

// The header of block `index` of `identity` whose bytes are `data`.
std::string EncodeBlockHeader(std::string_view identity, uint64_t index,
                              std::span<const std::byte> data);

// What a header says, once its magic, version and checksum are right.
struct BlockHeader {
  std::string identity;
  uint64_t index = 0;
  uint64_t length = 0;
  uint32_t chunk_size = 0;
  std::vector<uint64_t> chunk_checksums;
  size_t size = 0;  // bytes of the header itself
};

enum class BlockCheck {
  kValid,
  kTruncated,          // shorter than the header or its data claim
  kBadMagic,           // not a rangefs block file
  kOtherVersion,       // a block of another format version
  kBadHeaderChecksum,  // the header was torn or altered
  kOtherBlock,         // a valid block of another identity, index or length
  kBadDataChecksum,    // the bytes (of a chunk checked) were torn or altered
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

// Checks part of a block: `header` as above, for a block of `length` bytes, and `chunks`, the
// bytes of the ChunkRun `run` (ChunksCovering(length, ...)) read from the data.
BlockCheck VerifyChunks(std::span<const std::byte> header, std::string_view identity,
                        uint64_t index, uint64_t length, const ChunkRun& run,
                        std::span<const std::byte> chunks);

}  // namespace rangefs::disk
