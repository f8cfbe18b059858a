#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "disk/cache_index.h"
#include "fakes/temp_dir.h"

namespace rangefs::disk {
namespace {

BlockRow Row(const std::string& file, uint64_t index, uint64_t bytes) {
  return BlockRow{BlockName{file, index}, bytes};
}

std::unique_ptr<CacheIndex> OpenIndex(const std::string& path) {
  Result<std::unique_ptr<CacheIndex>> index = CacheIndex::Open(path);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return index.ok() ? std::move(index).value() : nullptr;
}

class DiskCacheIndexTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.path() + "/index.sqlite"; }
  fakes::TempDir dir_;
};

TEST_F(DiskCacheIndexTest, ReserveCountsNewRowsAndReportsExistingOnes) {
  auto index = OpenIndex(Path());
  ASSERT_NE(index, nullptr);
  const std::vector<BlockRow> rows = {Row("a", 0, 100), Row("a", 1, 50)};
  Result<Reservation> first = index->Reserve(rows, 1000, 1);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->existed, (std::vector<bool>{false, false}));
  EXPECT_EQ(first->used, 150u);
  Result<Reservation> again = index->Reserve(rows, 1000, 2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->existed, (std::vector<bool>{true, true}));
  EXPECT_EQ(again->used, 150u);
  EXPECT_EQ(*index->Used(), 150u);
  const Result<CacheIndex::FileUsage> usage = index->UsageOf("a");
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->bytes, 150u);
  EXPECT_EQ(usage->blocks, 2u);
  EXPECT_EQ(index->UsageOf("b")->bytes, 0u);
}

TEST_F(DiskCacheIndexTest, EvictsTheLeastRecentlyUsedOfEveryFile) {
  auto index = OpenIndex(Path());
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(index->Reserve(std::vector{Row("a", 0, 10)}, 30, 100).ok());
  ASSERT_TRUE(index->Reserve(std::vector{Row("b", 0, 10)}, 30, 200).ok());
  ASSERT_TRUE(index->Reserve(std::vector{Row("a", 1, 10)}, 30, 300).ok());
  // a/0 was used last: b/0 is now the oldest.
  const std::vector<std::pair<BlockName, int64_t>> uses = {{BlockName{"a", 0}, 400}};
  ASSERT_TRUE(index->Touch(uses).ok());
  Result<Reservation> reservation = index->Reserve(std::vector{Row("c", 0, 10)}, 30, 500);
  ASSERT_TRUE(reservation.ok());
  ASSERT_EQ(reservation->evicted.size(), 1u);
  EXPECT_EQ(reservation->evicted[0].name, (BlockName{"b", 0}));
  EXPECT_EQ(reservation->used, 30u);
  reservation = index->Reserve(std::vector{Row("c", 1, 15)}, 30, 600);
  ASSERT_TRUE(reservation.ok());
  ASSERT_EQ(reservation->evicted.size(), 2u);
  EXPECT_EQ(reservation->evicted[0].name, (BlockName{"a", 1}));
  EXPECT_EQ(reservation->evicted[1].name, (BlockName{"a", 0}));
  EXPECT_EQ(reservation->used, 25u);
}

TEST_F(DiskCacheIndexTest, NeverEvictsTheRowsItReservesAndRefusesWhatCannotFit) {
  auto index = OpenIndex(Path());
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(index->Reserve(std::vector{Row("old", 0, 10)}, 100, 1).ok());
  // Older than anything, yet reserved in this batch: "old" goes, the batch's first rows stay,
  // and the last one, which cannot fit beside them, is refused.
  const std::vector<BlockRow> batch = {Row("n", 0, 20), Row("n", 1, 20), Row("n", 2, 20)};
  Result<Reservation> reservation = index->Reserve(batch, 45, 0);
  ASSERT_TRUE(reservation.ok());
  ASSERT_EQ(reservation->evicted.size(), 1u);
  EXPECT_EQ(reservation->evicted[0].name.file, "old");
  EXPECT_EQ(reservation->refused, (std::vector<bool>{false, false, true}));
  EXPECT_EQ(reservation->used, 40u);
  EXPECT_EQ(index->UsageOf("n")->blocks, 2u);
}

TEST_F(DiskCacheIndexTest, ReleaseRemovesRowsAndTheirBytes) {
  auto index = OpenIndex(Path());
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(index->Reserve(std::vector{Row("a", 0, 10), Row("a", 1, 10)}, 100, 1).ok());
  const std::vector<BlockName> names = {BlockName{"a", 1}, BlockName{"missing", 3}};
  ASSERT_TRUE(index->Release(names).ok());
  EXPECT_EQ(*index->Used(), 10u);
  EXPECT_EQ(index->UsageOf("a")->blocks, 1u);
}

TEST_F(DiskCacheIndexTest, TheTotalOutlivesTheConnection) {
  {
    auto index = OpenIndex(Path());
    ASSERT_NE(index, nullptr);
    ASSERT_TRUE(index->Reserve(std::vector{Row("a", 0, 123)}, 1000, 1).ok());
  }
  auto reopened = OpenIndex(Path());
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(*reopened->Used(), 123u);
}

TEST_F(DiskCacheIndexTest, ConnectionsOpeningAFreshIndexAtOnceAllSucceed) {
  constexpr int kOpeners = 6;
  std::vector<std::unique_ptr<CacheIndex>> indexes(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      Result<std::unique_ptr<CacheIndex>> index = CacheIndex::Open(Path());
      if (index.ok()) indexes[static_cast<size_t>(i)] = std::move(index).value();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kOpeners; ++i) {
    ASSERT_NE(indexes[static_cast<size_t>(i)], nullptr) << "opener " << i;
    ASSERT_TRUE(indexes[static_cast<size_t>(i)]
                    ->Reserve(std::vector{Row("f", static_cast<uint64_t>(i), 1)}, 100, i)
                    .ok());
  }
  EXPECT_EQ(*indexes[0]->Used(), static_cast<uint64_t>(kOpeners));
}

TEST_F(DiskCacheIndexTest, TwoConnectionsShareOneBound) {
  auto first = OpenIndex(Path());
  auto second = OpenIndex(Path());
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  static constexpr uint64_t kLimit = 1000;
  std::vector<std::thread> threads;
  for (CacheIndex* index : {first.get(), second.get()}) {
    threads.emplace_back([index, name = std::to_string(reinterpret_cast<uintptr_t>(index))] {
      for (uint64_t i = 0; i < 200; ++i) {
        Result<Reservation> r =
            index->Reserve(std::vector{Row(name, i, 30), Row(name, i + 1000, 30)}, kLimit,
                           static_cast<int64_t>(i));
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        EXPECT_LE(r->used, kLimit);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(*first->Used(), kLimit);
  EXPECT_GE(*first->Used(), kLimit - 60);
}

TEST_F(DiskCacheIndexTest, OpenedReadOnlyItReadsAndWritesNothing) {
  // A name an SQLite URI must escape, in a directory this process may not write (when it is
  // not root: root writes anyway, and the read-only mount is the integration test's).
  const std::string dir = dir_.path() + "/a?b#c%d e";
  ASSERT_TRUE(std::filesystem::create_directory(dir));
  const std::string path = dir + "/index.sqlite";
  {
    auto index = OpenIndex(path);
    ASSERT_NE(index, nullptr);
    ASSERT_TRUE(index->Reserve(std::vector{Row("a", 0, 100), Row("b", 0, 20)}, 1000, 1).ok());
  }
  std::filesystem::permissions(dir,
                               std::filesystem::perms::owner_write |
                                   std::filesystem::perms::group_write |
                                   std::filesystem::perms::others_write,
                               std::filesystem::perm_options::remove);
  Result<std::unique_ptr<CacheIndex>> index = CacheIndex::OpenReadOnly(path);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(*(*index)->Used(), 120u);
  EXPECT_EQ((*index)->UsageOf("a")->bytes, 100u);
  EXPECT_FALSE((*index)->Reserve(std::vector{Row("c", 0, 10)}, 1000, 2).ok());
  EXPECT_FALSE((*index)->Release(std::vector{BlockName{"a", 0}}).ok());
  EXPECT_EQ(*(*index)->Used(), 120u);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
}

TEST_F(DiskCacheIndexTest, OpeningReadOnlyAnIndexThatIsNotThereFails) {
  EXPECT_FALSE(CacheIndex::OpenReadOnly(Path()).ok());
  EXPECT_FALSE(std::filesystem::exists(Path()));
}

}  // namespace
}  // namespace rangefs::disk
