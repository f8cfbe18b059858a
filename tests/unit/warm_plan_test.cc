#include "cli/warm_plan.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rangefs {
namespace {

constexpr uint64_t kBlock = 256 * 1024;

// "..##.": '#' a present block, '.' a missing one.
std::vector<bool> Present(const std::string& map) {
  std::vector<bool> present;
  for (char c : map) present.push_back(c == '#');
  return present;
}

TEST(WarmPlanTest, BlockCountsAndLengths) {
  EXPECT_EQ(BlockCountOf(0, kBlock), 0u);
  EXPECT_EQ(BlockCountOf(1, kBlock), 1u);
  EXPECT_EQ(BlockCountOf(kBlock, kBlock), 1u);
  EXPECT_EQ(BlockCountOf(kBlock + 1, kBlock), 2u);
  EXPECT_EQ(BlockLengthOf(kBlock + 1, kBlock, 0), kBlock);
  EXPECT_EQ(BlockLengthOf(kBlock + 1, kBlock, 1), 1u);
  EXPECT_EQ(BlockLengthOf(3 * kBlock, kBlock, 2), kBlock);
}

TEST(WarmPlanTest, MissingRunsCutIntoRequestsOfAtMostTheLimit) {
  const struct {
    const char* map;
    uint64_t max_blocks;  // max_request_bytes in blocks
    std::vector<WarmRequest> requests;
  } kCases[] = {
      {"", 4, {}},
      {"####", 4, {}},
      {"....", 4, {{0, 4}}},
      {"......", 4, {{0, 4}, {4, 2}}},
      {"........", 4, {{0, 4}, {4, 4}}},
      {"#..#..", 4, {{1, 2}, {4, 2}}},
      {".#.#.#", 4, {{0, 1}, {2, 1}, {4, 1}}},
      {"##.....##", 2, {{2, 2}, {4, 2}, {6, 1}}},
      {"...", 1, {{0, 1}, {1, 1}, {2, 1}}},
      {"#", 1, {}},
      {".", 1, {{0, 1}}},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(PlanWarmRequests(Present(c.map), kBlock, c.max_blocks * kBlock), c.requests)
        << c.map << " by " << c.max_blocks;
  }
}

TEST(WarmPlanTest, LimitRoundsDownToWholeBlocksButNeverBelowOne) {
  EXPECT_EQ(PlanWarmRequests(Present("...."), kBlock, 2 * kBlock + kBlock / 2),
            (std::vector<WarmRequest>{{0, 2}, {2, 2}}));
  EXPECT_EQ(PlanWarmRequests(Present(".."), kBlock, 0), (std::vector<WarmRequest>{{0, 1}, {1, 1}}));
  EXPECT_EQ(PlanWarmRequests(Present(".."), kBlock, kBlock - 1),
            (std::vector<WarmRequest>{{0, 1}, {1, 1}}));
}

TEST(WarmPlanTest, EveryMissingBlockInExactlyOneRequest) {
  const std::vector<bool> present = Present("#...##.#........#.....##......#");
  const std::vector<WarmRequest> requests = PlanWarmRequests(present, kBlock, 3 * kBlock);
  std::vector<int> times(present.size(), 0);
  for (const WarmRequest& request : requests) {
    EXPECT_GE(request.block_count, 1u);
    EXPECT_LE(request.block_count, 3u);
    for (uint64_t i = request.first_block; i < request.first_block + request.block_count; ++i) {
      ++times.at(i);
    }
  }
  for (size_t i = 0; i < present.size(); ++i) {
    EXPECT_EQ(times[i], present[i] ? 0 : 1) << "block " << i;
  }
}

TEST(WarmPlanTest, RangesEndAtTheFileOnTheShortLastBlock) {
  const uint64_t size = 3 * kBlock + 10;  // four blocks, the last 10 bytes
  EXPECT_EQ(RangeOfRequest({0, 1}, kBlock, size), (ByteRange{0, kBlock - 1}));
  EXPECT_EQ(RangeOfRequest({1, 2}, kBlock, size), (ByteRange{kBlock, 3 * kBlock - 1}));
  EXPECT_EQ(RangeOfRequest({2, 2}, kBlock, size), (ByteRange{2 * kBlock, size - 1}));
  EXPECT_EQ(RangeOfRequest({3, 1}, kBlock, size), (ByteRange{3 * kBlock, size - 1}));
}

}  // namespace
}  // namespace rangefs
