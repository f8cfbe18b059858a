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
  return config;
}

}  // namespace rangefs
