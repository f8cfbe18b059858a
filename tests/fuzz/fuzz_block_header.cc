// The disk cache's block files (disk/block_file.h): bytes read back from a disk that may hold
// anything (a torn write, another program's file, rot).
// Input, as a file: any bytes must parse without reading past them, and a header that parses
// must agree with itself. Input, as a block: split at the first zero byte into identity and
// data, encoded, it must parse back to the same fields and verify whole and by any chunk run.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "disk/block_file.h"
#include "fuzz_check.h"

namespace rangefs::fuzz {
namespace {

using disk::BlockCheck;

void CheckAnyBytes(std::span<const std::byte> bytes) {
  const disk::ParsedHeader parsed = disk::ParseBlockHeader(bytes);
  if (parsed.check != BlockCheck::kValid) return;
  const disk::BlockHeader& header = *parsed.header;
  FUZZ_CHECK(header.size <= bytes.size());
  FUZZ_CHECK(header.chunk_size > 0);
  FUZZ_CHECK(header.chunk_checksums.size() ==
             (header.length + header.chunk_size - 1) / header.chunk_size);
  const std::span<const std::byte> rest = bytes.subspan(header.size);
  if (header.length == rest.size()) {
    (void)disk::VerifyBlock(bytes.first(header.size), rest, header.identity, header.index);
  }
}

void CheckRoundTrip(std::span<const std::byte> bytes) {
  const auto zero = std::find(bytes.begin(), bytes.end(), std::byte{0});
  const size_t split = static_cast<size_t>(zero - bytes.begin());
  const std::string identity(reinterpret_cast<const char*>(bytes.data()), split);
  const std::span<const std::byte> data = bytes.subspan(std::min(bytes.size(), split + 1));
  const uint64_t index = split;
  const std::string encoded = disk::EncodeBlockHeader(identity, index, data);
  const std::span<const std::byte> header(reinterpret_cast<const std::byte*>(encoded.data()),
                                          encoded.size());
  FUZZ_CHECK(encoded.size() == disk::BlockHeaderSize(identity, data.size()));
  const disk::ParsedHeader parsed = disk::ParseBlockHeader(header);
  FUZZ_CHECK(parsed.check == BlockCheck::kValid);
  FUZZ_CHECK(parsed.header->identity == identity);
  FUZZ_CHECK(parsed.header->index == index);
  FUZZ_CHECK(parsed.header->length == data.size());
  FUZZ_CHECK(disk::VerifyBlock(header, data, identity, index) == BlockCheck::kValid);
  if (data.empty()) return;
  // Runs around a few reads inside the data: each covers its read and verifies alone.
  for (size_t i = 0; i + 1 < data.size() && i < 8; ++i) {
    const uint64_t a = std::to_integer<uint64_t>(data[i]) * 257 % data.size();
    const uint64_t b = std::to_integer<uint64_t>(data[i + 1]) * 4099 % data.size();
    const uint64_t from = std::min(a, b);
    const uint64_t to = std::max(a, b) + 1;
    const disk::ChunkRun run = disk::ChunksCovering(data.size(), from, to);
    FUZZ_CHECK(run.offset <= from && run.offset + run.length >= to);
    FUZZ_CHECK(run.offset + run.length <= data.size());
    FUZZ_CHECK(disk::VerifyChunks(header, identity, index, data.size(), run,
                                  data.subspan(run.offset, run.length)) == BlockCheck::kValid);
  }
}

}  // namespace
}  // namespace rangefs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  rangefs::fuzz::CheckAnyBytes(bytes);
  rangefs::fuzz::CheckRoundTrip(bytes);
  return 0;
}
