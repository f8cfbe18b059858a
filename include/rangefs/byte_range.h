// ByteRange: a closed interval of byte offsets, [first, last], as HTTP ranges are written
// (RFC 7233 section 2.1: "bytes=0-99" is the first 100 bytes). Keeping the inclusive form in
// one type stops the classic off-by-one of mixing "end" (exclusive) and "last" (inclusive).
#pragma once

#include <cstdint>
#include <optional>

namespace rangefs {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive; REQUIRES: last >= first

  uint64_t length() const { return last - first + 1; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// Whether the two ranges share at least one byte.
inline bool Overlaps(const ByteRange& a, const ByteRange& b) {
  return a.first <= b.last && b.first <= a.last;
}

// The bytes a read of `size` bytes at `offset` covers in a file of `file_size` bytes, clamped
// to the end of the file. Empty when nothing is to be read (size 0, or offset at or past EOF).
inline std::optional<ByteRange> ClampToFile(uint64_t offset, uint64_t size, uint64_t file_size) {
  if (size == 0 || offset >= file_size) return std::nullopt;
  const uint64_t remaining = file_size - offset;
  const uint64_t length = size < remaining ? size : remaining;
  return ByteRange{offset, offset + length - 1};
}

}  // namespace rangefs
