// Prefetcher: turns readahead decisions into background block loads. It skips blocks already
// cached or loading, coalesces adjacent missing blocks into one request, splits long runs so
// several connections share the work, puts the runs that cached blocks cut apart into one
// multi-range request (up to the same length), and never waits: the reader that triggered it
// goes on.
//
// Request length follows the window, not the range: a window of W over C connections is
// fetched in requests of about W / C bytes, whether the range is the whole window (a new or
// grown window) or one top-up step of it. Each request costs a round trip before its first
// byte, so requests are never cut shorter than that to use more connections.
//
// Thread-safety: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rangefs/block_fetcher.h"
#include "rangefs/byte_range.h"
#include "rangefs/file_version.h"

namespace rangefs {

class Prefetcher {
 public:
  // `connections`: how many requests a window is spread over at most; `max_request_bytes`:
  // the longest one request may be; `max_ranges`: most runs of blocks in one request.
  // REQUIRES: connections > 0, max_ranges > 0.
  Prefetcher(BlockFetcher& fetcher, size_t connections, uint64_t max_request_bytes,
             size_t max_ranges)
      : fetcher_(fetcher),
        connections_(connections),
        max_request_bytes_(max_request_bytes),
        max_ranges_(max_ranges) {}

  // Starts loading whatever of `range` of `version` is neither cached nor loading, for a
  // readahead window of `window` bytes (0: the range is the window).
  // REQUIRES: range.last < version->info.size.
  void Prefetch(const FileVersionPtr& version, const ByteRange& range, uint64_t window = 0);

 private:
  BlockFetcher& fetcher_;
  const size_t connections_;
  const uint64_t max_request_bytes_;
  const size_t max_ranges_;
};

}  // namespace rangefs
