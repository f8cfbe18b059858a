// DiskCache faults: a failed write (no space, read-only, permissions) logs once, pauses writing
// and resumes; a vanished directory is a fault, never a crash.
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

TEST_F(DiskCacheTest, AVanishedDirectoryIsAFaultNotACrash) {
  fakes::LogCapture log;
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  ASSERT_TRUE(cache->Store(*key, 0, *MakeBlock(*key, 0)).ok());
  fs::remove_all(CacheDir() + "/blocks");
  fs::remove_all(CacheDir() + "/tmp");
  EXPECT_EQ(cache->Load(*key, 0, kBlockSize), nullptr);
  EXPECT_FALSE(cache->Store(*key, 1, *MakeBlock(*key, 1)).ok());
  EXPECT_EQ(log.Count(spdlog::level::warn, "disk cache: " + CacheDir()), 1u);
}

}  // namespace
}  // namespace rangefs
