// Tunables of the read path: block cache, readahead and request parallelism. One place, each
// default with its reason; main() fills it from the command line.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rangefs/readahead_policy.h"

namespace rangefs {

struct ReadOptions {
  // Unit of caching and of the smallest request. Small enough that a random 4 KiB read costs
  // little more than a round trip, large enough that a 1 MiB kernel read touches few blocks.
  // Chosen with scripts/bench (see README).
  uint64_t block_size = 256 << 10;
  // Memory for cached blocks, all files together.
  uint64_t cache_size = 256 << 20;
  // Readahead windows; max_window is further held to a fair share of the cache (see
  // EffectiveReadahead).
  ReadaheadConfig readahead;
  // Parallel prefetch requests in flight, all files together. Demand reads are not held back by
  // this limit: a waiting reader never queues behind readahead.
  size_t connections = 8;
  // Largest single prefetch request. Long requests amortize the round trip each one costs;
  // bounded so a reader that seeks away strands little.
  uint64_t max_request_bytes = 16 << 20;
};

// The readahead configuration actually used: max_window at most a quarter of the cache (so a
// few streams at full speed cannot evict each other's blocks before they are read) and at
// least one block; windows counted in whole blocks.
ReadaheadConfig EffectiveReadahead(const ReadOptions& options);

}  // namespace rangefs
