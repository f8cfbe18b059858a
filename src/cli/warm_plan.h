// What `rangefs warm` fetches of one file: the runs of blocks the cache lacks, cut into
// requests of at most a given size. Blocks the cache has are skipped, so a warm that was
// interrupted resumes where it stopped.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "rangefs/byte_range.h"

namespace rangefs {

// Blocks first_block .. first_block + block_count - 1, asked for in one request.
struct WarmRequest {
  uint64_t first_block = 0;
  uint64_t block_count = 0;
  friend bool operator==(const WarmRequest&, const WarmRequest&) = default;
};

// Blocks of a file of `file_size` bytes cut into `block_size`-byte blocks (the last may be
// shorter). REQUIRES: block_size > 0.
uint64_t BlockCountOf(uint64_t file_size, uint64_t block_size);
// Length of block `index`. REQUIRES: index < BlockCountOf(file_size, block_size).
uint64_t BlockLengthOf(uint64_t file_size, uint64_t block_size, uint64_t index);

// The requests that fetch every block not `present` (present[i]: block i is cached), in file
// order: each run of missing blocks cut into requests of at most max_request_bytes (never
// fewer than one block), no request spanning a present block.
// REQUIRES: block_size > 0.
std::vector<WarmRequest> PlanWarmRequests(const std::vector<bool>& present, uint64_t block_size,
                                          uint64_t max_request_bytes);

// The bytes `request` covers in a file of `file_size` bytes.
// REQUIRES: the request's blocks lie within the file.
ByteRange RangeOfRequest(const WarmRequest& request, uint64_t block_size, uint64_t file_size);

}  // namespace rangefs
