#include "rangefs/read_options.h"

#include <algorithm>

namespace rangefs {

ReadaheadConfig EffectiveReadahead(const ReadOptions& options) {
  ReadaheadConfig config = options.readahead;
  const uint64_t block = options.block_size;
  const uint64_t fair_share = options.cache_size / 4;
  config.max_window = std::max(block, std::min(config.max_window, fair_share) / block * block);
  config.initial_window =
      std::clamp((config.initial_window + block - 1) / block * block, block, config.max_window);
  config.requests_per_window = std::max<size_t>(1, options.connections);
  config.min_top_up = block;
  return config;
}

std::vector<BlockRunIndexes> OpenPrefetchRuns(uint64_t size, const ReadOptions& options) {
  const uint64_t block = options.block_size;
  if (!options.open_prefetch || size == 0 || block == 0) return {};
  const uint64_t last_block = (size - 1) / block;
  std::vector<BlockRunIndexes> runs;
  if (options.open_prefetch_head > 0) {
    runs.push_back({0, (std::min(options.open_prefetch_head, size) - 1) / block});
  }
  if (options.open_prefetch_tail > 0) {
    const uint64_t tail_first = (size - std::min(options.open_prefetch_tail, size)) / block;
    if (!runs.empty() && tail_first <= runs.back().last_index + 1) {
      runs.back().last_index = last_block;  // they meet: one run
    } else {
      runs.push_back({tail_first, last_block});
    }
  }
  return runs;
}

}  // namespace rangefs
