#include "rangefs/prefetcher.h"

#include <algorithm>
#include <cassert>
#include <vector>

namespace rangefs {

void Prefetcher::Prefetch(const FileVersionPtr& version, const ByteRange& range, uint64_t window) {
  assert(connections_ > 0 && max_ranges_ > 0);
  const uint64_t block = fetcher_.block_size();
  const uint64_t first_index = range.first / block;
  const uint64_t last_index = range.last / block;
  // One connection's share of the window, but never below one block (a request costs a round
  // trip) nor above max_request_bytes.
  const uint64_t window_blocks =
      std::max((window + block - 1) / block, last_index - first_index + 1);
  const uint64_t max_blocks = std::max<uint64_t>(1, max_request_bytes_ / block);
  const uint64_t share =
      std::clamp<uint64_t>((window_blocks + connections_ - 1) / connections_, 1, max_blocks);

  std::vector<BlockFetcher::Run> missing;
  fetcher_.ClaimMissing(version, first_index, last_index, missing);
  uint64_t missing_blocks = 0;
  for (const BlockFetcher::Run& run : missing)
    missing_blocks += run.last_index - run.first_index + 1;
  if (missing_blocks == 0) return;

  // The missing blocks divided by the share, rounded to the nearest whole number of requests
  // (at least one, and enough to respect the cap), of nearly equal length: a top-up of a share
  // and a bit is one request, not a share and a stub that costs a round trip of its own.
  const uint64_t requests = std::max({uint64_t{1}, (2 * missing_blocks + share) / (2 * share),
                                      (missing_blocks + max_blocks - 1) / max_blocks});
  const uint64_t base = missing_blocks / requests;
  uint64_t longer = missing_blocks % requests;  // this many requests take one block more

  // Where cached blocks cut the missing ones into several runs, a request takes several runs
  // (one multi-range GET where the source can): the same bytes on the same connection in one
  // round trip instead of one round trip a run.
  std::vector<BlockFetcher::Run> request;
  uint64_t request_blocks = 0;
  uint64_t wanted = base + (longer > 0 ? 1 : 0);
  const auto send = [&] {
    if (request.empty()) return;
    fetcher_.FetchClaimedRuns(version, request, FetchPriority::kPrefetch);
    request.clear();
    request_blocks = 0;
    if (longer > 0) --longer;
    wanted = base + (longer > 0 ? 1 : 0);
  };
  for (BlockFetcher::Run run : missing) {
    while (run.first_index <= run.last_index) {
      const uint64_t take = std::min(run.last_index - run.first_index + 1, wanted - request_blocks);
      request.push_back({run.first_index, run.first_index + take - 1});
      request_blocks += take;
      run.first_index += take;
      if (request_blocks == wanted || request.size() == max_ranges_) send();
    }
  }
  send();
}

}  // namespace rangefs
