#include "cli/warm_plan.h"

#include <algorithm>
#include <cassert>

namespace rangefs {

uint64_t BlockCountOf(uint64_t file_size, uint64_t block_size) {
  assert(block_size > 0);
  return file_size / block_size + (file_size % block_size != 0 ? 1 : 0);
}

uint64_t BlockLengthOf(uint64_t file_size, uint64_t block_size, uint64_t index) {
  assert(index < BlockCountOf(file_size, block_size));
  return std::min(block_size, file_size - index * block_size);
}

std::vector<WarmRequest> PlanWarmRequests(const std::vector<bool>& present, uint64_t block_size,
                                          uint64_t max_request_bytes) {
  assert(block_size > 0);
  const uint64_t most_blocks = std::max<uint64_t>(1, max_request_bytes / block_size);
  std::vector<WarmRequest> requests;
  const uint64_t count = present.size();
  uint64_t index = 0;
  while (index < count) {
    if (present[index]) {
      ++index;
      continue;
    }
    WarmRequest request{.first_block = index, .block_count = 0};
    while (index < count && !present[index] && request.block_count < most_blocks) {
      ++request.block_count;
      ++index;
    }
    requests.push_back(request);
  }
  return requests;
}

ByteRange RangeOfRequest(const WarmRequest& request, uint64_t block_size, uint64_t file_size) {
  assert(request.block_count > 0);
  const uint64_t first = request.first_block * block_size;
  const uint64_t end =
      std::min(file_size, (request.first_block + request.block_count) * block_size);
  assert(first < end);
  return ByteRange{first, end - 1};
}

}  // namespace rangefs
