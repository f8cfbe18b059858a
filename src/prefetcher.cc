#include "rangefs/prefetcher.h"

#include <algorithm>
#include <cassert>

namespace rangefs {

void Prefetcher::Prefetch(const FileVersionPtr& version, const ByteRange& range) {
  assert(connections_ > 0);
  const uint64_t block = fetcher_.block_size();
  const uint64_t first_index = range.first / block;
  const uint64_t last_index = range.last / block;
  // Spread the window over the connections, but never below one block per request (a request
  // costs a round trip) nor above max_request_bytes.
  const uint64_t blocks = last_index - first_index + 1;
  const uint64_t per_connection = (blocks + connections_ - 1) / connections_;
  const uint64_t max_run =
      std::clamp<uint64_t>(per_connection, 1, std::max<uint64_t>(1, max_request_bytes_ / block));

  BlockCache& cache = fetcher_.cache();
  uint64_t run_start = 0;
  uint64_t run_length = 0;
  for (uint64_t index = first_index; index <= last_index; ++index) {
    if (cache.TryClaim(version->KeyFor(index))) {
      if (run_length == 0) run_start = index;
      ++run_length;
      if (run_length < max_run) continue;
    }
    if (run_length > 0) {
      fetcher_.FetchClaimed(version, run_start, run_start + run_length - 1,
                            FetchPriority::kPrefetch);
      run_length = 0;
    }
  }
  if (run_length > 0) {
    fetcher_.FetchClaimed(version, run_start, run_start + run_length - 1, FetchPriority::kPrefetch);
  }
}

}  // namespace rangefs
