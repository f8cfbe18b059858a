// Tunables of the read path: block cache, readahead and request parallelism. One place, each
// default with its reason; main() fills it from the command line.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rangefs/readahead_policy.h"

namespace rangefs {

// How long one read may wait for the network, whatever the server does.
struct ReadWaitLimits {
  // A read still waiting for a block this long after it began fails (kTransport), while the
  // load goes on for later reads. Fetches end by --timeout on their own (the retry deadline,
  // the request timeout); this backstop is --timeout plus a slack (main: 2 s) so that a read
  // holds a reader for a bounded time even where a path has no deadline of its own.
  std::chrono::milliseconds timeout{62'000};
  // A block whose load just failed fails the handle's next read of it at once, for this long:
  // the kernel answers a failed readahead by reading the page again at once, which would
  // otherwise wait for a second whole --timeout behind the same broken server.
  std::chrono::milliseconds failure_memory{1'000};
};

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
  // Most ranges asked for in one multi-range request (1: never several). Apache refuses more
  // than 200 by default; 16 keeps what a failed multi-range answer costs small.
  size_t max_ranges = 16;
  // The first open of each version fetches the blocks holding its first open_prefetch_head and
  // last open_prefetch_tail bytes in one multi-range request, because that is where zip's end
  // of central directory, an MP4 moov written last, a Parquet footer and a SQLite header live.
  // The head costs nothing (the opener reads it next); the tail saves the round trip of a tool
  // that jumps to the end, and costs up to one block more transfer for one that does not.
  // Measured with scripts/bench (--suite multirange; see README).
  bool open_prefetch = true;
  uint64_t open_prefetch_head = 64 << 10;
  uint64_t open_prefetch_tail = 256 << 10;
  // How a read waits; see ReadWaitLimits.
  ReadWaitLimits wait;
};

// The runs of blocks (first and last index, inclusive) the first open of a file of `size` bytes
// fetches: the blocks holding its first `head` and last `tail` bytes, as one run when they meet.
// Empty for an empty file, when open_prefetch is off, or when both are zero.
struct BlockRunIndexes {
  uint64_t first_index = 0;
  uint64_t last_index = 0;
  friend bool operator==(const BlockRunIndexes&, const BlockRunIndexes&) = default;
};
std::vector<BlockRunIndexes> OpenPrefetchRuns(uint64_t size, const ReadOptions& options);

// The readahead configuration actually used: max_window at most a quarter of the cache (so a
// few streams at full speed cannot evict each other's blocks before they are read) and at
// least one block; windows counted in whole blocks; a window topped up one connection's share
// at a time, and never less than a block.
ReadaheadConfig EffectiveReadahead(const ReadOptions& options);

}  // namespace rangefs
