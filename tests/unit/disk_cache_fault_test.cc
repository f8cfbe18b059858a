// DiskCache faults: a failed write (no space, read-only, permissions) logs once, pauses writing
// and resumes; deleted subdirectories are made again; a vanished directory is a fault, never a
// crash.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>

#include "fakes/log_capture.h"
#include "rangefs/disk_cache.h"
#include "unit/disk_cache_fixture.h"

namespace rangefs {
namespace {

using namespace disk_testing;  // NOLINT(build/namespaces): the fixture's helpers

class DiskCacheFaultTest : public DiskCacheTest, public ::testing::WithParamInterface<int> {};

TEST_P(DiskCacheFaultTest, AFailedWriteLogsOncePausesWritingAndResumes) {
  const int error = GetParam();
  fakes::LogCapture log;
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  ASSERT_TRUE(cache->Store(*key, 0, *MakeBlock(*key, 0)).ok());

  files_->FailWritesWith(error);
  cache->Offer(key, 1, MakeBlock(*key, 1));
  cache->Flush();
  EXPECT_EQ(
      log.Count(spdlog::level::warn, "disk cache: " + CacheDir() + ": " + std::strerror(error) +
                                         "; reads go on from memory and the network, "
                                         "writing again in 30 s"),
      1u);
  EXPECT_FALSE(cache->Contains(*key, 1));
  EXPECT_EQ(cache->StoredBytesOf(*key), kBlockSize);  // the failed block's row was released
  // Reads of what is stored go on.
  ASSERT_NE(cache->Load(*key, 0, kBlockSize), nullptr);
  // Paused: offers are dropped without trying the disk.
  const int attempts = files_->write_attempts();
  for (uint64_t i = 2; i < 6; ++i) cache->Offer(key, i, MakeBlock(*key, i));
  cache->Flush();
  EXPECT_EQ(files_->write_attempts(), attempts);
  EXPECT_EQ(cache->stats().dropped, 5u);
  clock_.AdvanceBy(std::chrono::seconds(29));
  cache->Offer(key, 6, MakeBlock(*key, 6));
  cache->Flush();
  EXPECT_EQ(files_->write_attempts(), attempts);
  EXPECT_EQ(log.lines().size(), 1u);

  // Space is back; after the pause, writing resumes, with one line saying so.
  files_->FailWritesWith(0);
  clock_.AdvanceBy(std::chrono::seconds(2));
  cache->Offer(key, 7, MakeBlock(*key, 7));
  cache->Flush();
  EXPECT_TRUE(cache->Contains(*key, 7));
  EXPECT_EQ(log.Count(spdlog::level::info, "disk cache: " + CacheDir() + ": writing again"), 1u);
  EXPECT_EQ(log.lines().size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(DiskCacheFaults, DiskCacheFaultTest,
                         ::testing::Values(ENOSPC, EROFS, EACCES));

TEST_F(DiskCacheTest, StoreReportsAFailedWriteWithoutLoggingAgain) {
  fakes::LogCapture log;
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  files_->FailWritesWith(ENOSPC);
  for (uint64_t i = 0; i < 3; ++i) {
    const Status status = cache->Store(*key, i, *MakeBlock(*key, i));
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.message(), std::strerror(ENOSPC));
  }
  EXPECT_EQ(log.lines().size(), 1u);
  EXPECT_EQ(cache->stats().used_bytes, 0u);
}

TEST_F(DiskCacheTest, DeletedSubdirectoriesAreMadeAgainAndWritingGoesOn) {
  fakes::LogCapture log;
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  ASSERT_TRUE(cache->Store(*key, 0, *MakeBlock(*key, 0)).ok());
  fs::remove_all(CacheDir() + "/blocks");
  fs::remove_all(CacheDir() + "/tmp");
  EXPECT_EQ(cache->Load(*key, 0, kBlockSize), nullptr);  // its file went with blocks/
  const Status stored = cache->Store(*key, 1, *MakeBlock(*key, 1));
  EXPECT_TRUE(stored.ok()) << stored.ToString();
  EXPECT_TRUE(fs::is_directory(CacheDir() + "/tmp"));
  // And the writer thread's writes, with tmp/ gone once more.
  fs::remove_all(CacheDir() + "/tmp");
  cache->Offer(key, 2, MakeBlock(*key, 2));
  cache->Flush();
  for (uint64_t i : {1u, 2u}) {
    const BlockPtr loaded = cache->Load(*key, i, kBlockSize);
    ASSERT_NE(loaded, nullptr) << i;
    EXPECT_TRUE(SameBytes(*loaded, *MakeBlock(*key, i))) << i;
  }
  EXPECT_EQ(cache->stats().errors, 0u);
  EXPECT_EQ(cache->stats().dropped, 0u);
  EXPECT_EQ(log.Count(spdlog::level::warn, "disk cache"), 0u) << "writing was paused";
  EXPECT_EQ(log.Count(spdlog::level::info,
                      "disk cache: " + CacheDir() + ": made its missing directories again"),
            2u);
}

TEST_F(DiskCacheTest, AVanishedDirectoryIsAFaultNotACrashAndIsNotMadeAgain) {
  fakes::LogCapture log;
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  ASSERT_TRUE(cache->Store(*key, 0, *MakeBlock(*key, 0)).ok());
  fs::remove_all(CacheDir());  // its index too, still open
  EXPECT_EQ(cache->Load(*key, 0, kBlockSize), nullptr);
  EXPECT_FALSE(cache->Store(*key, 1, *MakeBlock(*key, 1)).ok());
  EXPECT_EQ(log.Count(spdlog::level::warn, "disk cache: " + CacheDir()), 1u);
  // Made again, it would hold blocks/ and tmp/ but no format file: the next Open would refuse it.
  EXPECT_FALSE(fs::exists(CacheDir()));
}

}  // namespace
}  // namespace rangefs
