#include "rangefs/block_buffers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "rangefs/block.h"

namespace rangefs {
namespace {

constexpr size_t kBlock = 256 * 1024;

class BlockBuffersTest : public testing::Test {
 protected:
  // The stock is the process's: other tests leave buffers in it.
  void SetUp() override { BlockBuffers::FreeStock(); }
  void TearDown() override { BlockBuffers::FreeStock(); }
};

TEST_F(BlockBuffersTest, AFreedBlockBufferIsHandedOutAgain) {
  const std::byte* first = nullptr;
  {
    Block block(kBlock);
    first = block.bytes().data();
  }
  Block again(kBlock);
  EXPECT_EQ(again.bytes().data(), first);
  EXPECT_EQ(again.size(), kBlock);
}

TEST_F(BlockBuffersTest, OnlyABufferOfTheSameSizeIsReused) {
  const std::byte* freed = nullptr;
  {
    Block block(kBlock);
    freed = block.bytes().data();
  }
  Block shorter(kBlock - 4096);
  EXPECT_NE(shorter.bytes().data(), freed);
  Block same(kBlock);
  EXPECT_EQ(same.bytes().data(), freed);
}

TEST_F(BlockBuffersTest, SmallBuffersAreNotStocked) {
  { Block small(BlockBuffers::kMinStockedSize - 1); }
  EXPECT_EQ(BlockBuffers::StockedBytes(), 0u);
  { Block large(BlockBuffers::kMinStockedSize); }
  EXPECT_EQ(BlockBuffers::StockedBytes(), BlockBuffers::kMinStockedSize);
}

TEST_F(BlockBuffersTest, TheStockStaysWithinItsBound) {
  const size_t count = BlockBuffers::kStockBytes / kBlock + 8;
  {
    std::vector<std::unique_ptr<Block>> blocks;
    for (size_t i = 0; i < count; ++i) blocks.push_back(std::make_unique<Block>(kBlock));
  }
  EXPECT_LE(BlockBuffers::StockedBytes(), BlockBuffers::kStockBytes);
  EXPECT_GT(BlockBuffers::StockedBytes(), BlockBuffers::kStockBytes - kBlock);
}

TEST_F(BlockBuffersTest, ABufferTakenFromTheStockLeavesIt) {
  { Block block(kBlock); }
  ASSERT_EQ(BlockBuffers::StockedBytes(), kBlock);
  Block taken(kBlock);
  EXPECT_EQ(BlockBuffers::StockedBytes(), 0u);
  std::fill(taken.mutable_bytes().begin(), taken.mutable_bytes().end(), std::byte{7});
  EXPECT_EQ(taken.bytes()[kBlock - 1], std::byte{7});
}

}  // namespace
}  // namespace rangefs
