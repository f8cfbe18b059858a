#include "rangefs/prefetcher.h"

#include <algorithm>
#include <cassert>
#include <vector>

namespace rangefs {

void Prefetcher::Prefetch(const FileVersionPtr& version, const ByteRange& range) {
  assert(connections_ > 0 && max_ranges_ > 0);
  const uint64_t block = fetcher_.block_size();
  const uint64_t first_index = range.first / block;
  const uint64_t last_index = range.last / block;
  // Spread the window over the connections, but never below one block per request (a request
  // costs a round trip) nor above max_request_bytes. Counted over the whole window, not just
  // its missing blocks, so that topping up a window keeps requests as long as the first fill.
  const uint64_t blocks = last_index - first_index + 1;
  const uint64_t per_connection = (blocks + connections_ - 1) / connections_;
  const uint64_t per_request =
      std::clamp<uint64_t>(per_connection, 1, std::max<uint64_t>(1, max_request_bytes_ / block));

  std::vector<BlockFetcher::Run> missing;
  fetcher_.ClaimMissing(version, first_index, last_index, missing);

  // Each request carries up to per_request blocks. Where cached blocks cut the missing ones
  // into several runs, a request takes several runs (one multi-range GET where the source can):
  // the same bytes on the same connection in one round trip instead of one round trip a run.
  std::vector<BlockFetcher::Run> request;
  uint64_t request_blocks = 0;
  const auto send = [&] {
    if (request.empty()) return;
    fetcher_.FetchClaimedRuns(version, request, FetchPriority::kPrefetch);
    request.clear();
    request_blocks = 0;
  };
  for (BlockFetcher::Run run : missing) {
    while (run.first_index <= run.last_index) {
      const uint64_t take =
          std::min(run.last_index - run.first_index + 1, per_request - request_blocks);
      request.push_back({run.first_index, run.first_index + take - 1});
      request_blocks += take;
      run.first_index += take;
      if (request_blocks == per_request || request.size() == max_ranges_) send();
    }
  }
  send();
}

}  // namespace rangefs
