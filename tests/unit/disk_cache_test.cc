#include "rangefs/disk_cache.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "disk/block_file.h"
#include "disk/cache_directory.h"
#include "disk/disk_cache_opener.h"
#include "fakes/faulty_cache_files.h"
#include "fakes/log_capture.h"
#include "fakes/manual_scheduler.h"
#include "fakes/temp_dir.h"
#include "unit/disk_cache_fixture.h"

namespace rangefs {
namespace {

using namespace disk_testing;  // NOLINT(build/namespaces): the fixture's helpers

TEST_F(DiskCacheTest, StoredBlockLoadsBackAfterReopening) {
  const FileKeyPtr key = Key('a');
  const BlockPtr block = MakeBlock(*key, 3);
  {
    auto cache = Open(Options());
    ASSERT_NE(cache, nullptr);
    EXPECT_FALSE(cache->Contains(*key, 3));
    ASSERT_TRUE(cache->Store(*key, 3, *block).ok());
    EXPECT_TRUE(cache->Contains(*key, 3));
    EXPECT_EQ(cache->StoredBytesOf(*key), kBlockSize);
    EXPECT_EQ(cache->stats().writes, 1u);
  }
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->stats().used_bytes, FileSize());
  const BlockPtr loaded = cache->Load(*key, 3, kBlockSize);
  ASSERT_NE(loaded, nullptr);
  EXPECT_TRUE(SameBytes(*loaded, *block));
  EXPECT_EQ(cache->Load(*key, 4, kBlockSize), nullptr);
  EXPECT_EQ(cache->stats().hits, 1u);
  EXPECT_EQ(cache->stats().misses, 1u);
  EXPECT_EQ(cache->stats().errors, 0u);
}

TEST_F(DiskCacheTest, OfferedBlocksAreWrittenByTheWriter) {
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  for (uint64_t i = 0; i < 5; ++i) cache->Offer(key, i, MakeBlock(*key, i));
  cache->Offer(key, 0, MakeBlock(*key, 0));  // offered twice: written once
  cache->Flush();
  EXPECT_EQ(cache->stats().writes, 5u);
  EXPECT_EQ(cache->stats().used_bytes, 5 * FileSize());
  for (uint64_t i = 0; i < 5; ++i) {
    const BlockPtr loaded = cache->Load(*key, i, kBlockSize);
    ASSERT_NE(loaded, nullptr) << i;
    EXPECT_TRUE(SameBytes(*loaded, *MakeBlock(*key, i)));
  }
}

TEST_F(DiskCacheTest, ABlockOfAnotherVersionIsNotServed) {
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr old_version = Key('a', "etag \"v1\"");
  const FileKeyPtr new_version = Key('a', "etag \"v2\"");
  ASSERT_TRUE(cache->Store(*old_version, 0, *MakeBlock(*old_version, 0)).ok());
  EXPECT_EQ(cache->Load(*new_version, 0, kBlockSize), nullptr);
  EXPECT_EQ(cache->StoredBytesOf(*new_version), 0u);
}

TEST_F(DiskCacheTest, ACorruptBlockIsAMissCountedLoggedOnceAndRemoved) {
  fakes::LogCapture log;
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  ASSERT_TRUE(cache->Store(*key, 0, *MakeBlock(*key, 0)).ok());
  ASSERT_TRUE(cache->Store(*key, 1, *MakeBlock(*key, 1)).ok());
  FlipByte(PathOf(CacheDir(), *key, 0), -100, std::ios::end);  // in the data
  FlipByte(PathOf(CacheDir(), *key, 1), 30, std::ios::beg);    // in the header

  for (uint64_t index : {uint64_t{0}, uint64_t{1}}) {
    EXPECT_EQ(cache->Load(*key, index, kBlockSize), nullptr) << index;
    EXPECT_FALSE(fs::exists(PathOf(CacheDir(), *key, index))) << index;
  }
  EXPECT_EQ(cache->stats().errors, 2u);
  EXPECT_EQ(cache->stats().misses, 2u);
  EXPECT_EQ(log.Count(spdlog::level::warn, "a block of https://h/file-a failed its checksum"), 1u);
  EXPECT_EQ(log.lines().size(), 1u);
  // Its rows went with the files: the index no longer counts them.
  EXPECT_EQ(cache->StoredBytesOf(*key), 0u);
  cache->Flush();
  EXPECT_EQ(cache->stats().used_bytes, 0u);
  // And the block can be kept again.
  ASSERT_TRUE(cache->Store(*key, 0, *MakeBlock(*key, 0)).ok());
  EXPECT_NE(cache->Load(*key, 0, kBlockSize), nullptr);
}

TEST_F(DiskCacheTest, ATruncatedBlockIsAMiss) {
  fakes::LogCapture log;
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  ASSERT_TRUE(cache->Store(*key, 0, *MakeBlock(*key, 0)).ok());
  const std::string path = PathOf(CacheDir(), *key, 0);
  // A power cut after the link but before the data reached the disk: any length short of full.
  for (uint64_t size : {FileSize() - 1, uint64_t{100}, uint64_t{0}}) {
    ASSERT_TRUE(cache->Store(*key, 0, *MakeBlock(*key, 0)).ok());
    ASSERT_TRUE(fs::exists(path));
    fs::resize_file(path, size);
    EXPECT_EQ(cache->Load(*key, 0, kBlockSize), nullptr) << size;
    EXPECT_FALSE(fs::exists(path));
  }
  EXPECT_EQ(cache->stats().errors, 3u);
  EXPECT_EQ(log.Count(spdlog::level::warn, "failed its checksum; fetching it again (truncated)"),
            1u);
}

TEST_F(DiskCacheTest, AFileUnderAnotherBlocksNameIsNotServed) {
  fakes::LogCapture log;
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr a = Key('a');
  const FileKeyPtr b = Key('b');
  ASSERT_TRUE(cache->Store(*a, 0, *MakeBlock(*a, 0)).ok());
  ASSERT_TRUE(cache->Store(*a, 1, *MakeBlock(*a, 1)).ok());
  fs::create_directories(fs::path(PathOf(CacheDir(), *b, 0)).parent_path());
  fs::rename(PathOf(CacheDir(), *a, 0), PathOf(CacheDir(), *b, 0));
  fs::rename(PathOf(CacheDir(), *a, 1), PathOf(CacheDir(), *a, 2));
  EXPECT_EQ(cache->Load(*b, 0, kBlockSize), nullptr);  // another key
  EXPECT_EQ(cache->Load(*a, 2, kBlockSize), nullptr);  // another index
  EXPECT_EQ(cache->Load(*a, 0, kBlockSize), nullptr);  // gone
  EXPECT_EQ(cache->stats().hits, 0u);
  EXPECT_EQ(cache->stats().errors, 2u);
}

TEST_F(DiskCacheTest, ARowWhoseFileIsMissingIsAMissAndIsWrittenAgain) {
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  ASSERT_TRUE(cache->Store(*key, 0, *MakeBlock(*key, 0)).ok());
  fs::remove(PathOf(CacheDir(), *key, 0));
  EXPECT_FALSE(cache->Contains(*key, 0));
  EXPECT_EQ(cache->Load(*key, 0, kBlockSize), nullptr);
  EXPECT_EQ(cache->stats().errors, 0u);
  cache->Offer(key, 0, MakeBlock(*key, 0));
  cache->Flush();
  EXPECT_TRUE(cache->Contains(*key, 0));
  EXPECT_NE(cache->Load(*key, 0, kBlockSize), nullptr);
  EXPECT_EQ(cache->stats().used_bytes, FileSize());  // counted once
}

TEST_F(DiskCacheTest, EvictsTheLeastRecentlyUsedBlockAcrossFiles) {
  auto cache = Open(Options(3 * FileSize()));
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr a = Key('a');
  const FileKeyPtr b = Key('b');
  const FileKeyPtr c = Key('c');
  ASSERT_TRUE(cache->Store(*a, 0, *MakeBlock(*a, 0)).ok());
  ASSERT_TRUE(cache->Store(*b, 0, *MakeBlock(*b, 0)).ok());
  ASSERT_TRUE(cache->Store(*a, 1, *MakeBlock(*a, 1)).ok());
  // A hit on a/0 makes b/0 the least recently used.
  ASSERT_NE(cache->Load(*a, 0, kBlockSize), nullptr);
  cache->Flush();
  ASSERT_TRUE(cache->Store(*c, 0, *MakeBlock(*c, 0)).ok());
  EXPECT_FALSE(cache->Contains(*b, 0));
  EXPECT_TRUE(cache->Contains(*a, 0));
  EXPECT_TRUE(cache->Contains(*a, 1));
  ASSERT_TRUE(cache->Store(*c, 1, *MakeBlock(*c, 1)).ok());
  EXPECT_FALSE(cache->Contains(*a, 1));
  EXPECT_TRUE(cache->Contains(*a, 0));
  EXPECT_EQ(cache->stats().evictions, 2u);
  EXPECT_EQ(cache->stats().used_bytes, 3 * FileSize());
  EXPECT_EQ(BytesOnDisk(CacheDir()), 3 * FileSize());
}

TEST_F(DiskCacheTest, NeverHoldsMoreThanItsSize) {
  const uint64_t max_bytes = 10 * FileSize() + FileSize() / 2;
  auto cache = Open(Options(max_bytes));
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  for (uint64_t round = 0; round < 6; ++round) {
    for (uint64_t i = 0; i < 8; ++i)
      cache->Offer(key, round * 8 + i, MakeBlock(*key, round * 8 + i));
    cache->Flush();
    EXPECT_LE(cache->stats().used_bytes, max_bytes);
    EXPECT_LE(BytesOnDisk(CacheDir()), max_bytes);
  }
  EXPECT_EQ(cache->stats().writes, 48u);
  EXPECT_EQ(cache->stats().used_bytes, 10 * FileSize());
  EXPECT_EQ(cache->stats().evictions, 38u);
  // The newest blocks are the ones kept.
  EXPECT_TRUE(cache->Contains(*key, 47));
  EXPECT_FALSE(cache->Contains(*key, 37));
}

TEST_F(DiskCacheTest, LeavesTheMinimumFreeOnTheFilesystem) {
  files_->SetCapacity(20 * FileSize());
  DiskCacheOptions options = Options();
  options.min_free_bytes = 5 * FileSize();
  tuning_.free_space_interval = std::chrono::milliseconds(0);
  auto cache = Open(options);
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  for (uint64_t i = 0; i < 30; ++i) {
    ASSERT_TRUE(cache->Store(*key, i, *MakeBlock(*key, i)).ok()) << i;
    EXPECT_LE(BytesOnDisk(CacheDir()), 15 * FileSize()) << i;
  }
  EXPECT_EQ(cache->stats().used_bytes, 15 * FileSize());
  EXPECT_EQ(cache->stats().evictions, 15u);
}

TEST_F(DiskCacheTest, APercentOfTheFilesystemIsKeptFree) {
  files_->SetCapacity(100 * FileSize());
  DiskCacheOptions options = Options();
  options.min_free_bytes = 0;
  options.min_free_percent = 90.0;
  tuning_.free_space_interval = std::chrono::milliseconds(0);
  auto cache = Open(options);
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a');
  for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(cache->Store(*key, i, *MakeBlock(*key, i)).ok());
  EXPECT_EQ(cache->stats().used_bytes, 10 * FileSize());
}

TEST_F(DiskCacheTest, VersionsWithoutValidatorsAreNeitherStoredNorLoaded) {
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  const FileKeyPtr key = Key('a', "");
  cache->Offer(key, 0, MakeBlock(*key, 0));
  cache->Flush();
  EXPECT_FALSE(cache->Store(*key, 1, *MakeBlock(*key, 1)).ok());
  EXPECT_EQ(cache->stats().writes, 0u);
  EXPECT_EQ(cache->stats().used_bytes, 0u);
  EXPECT_EQ(BytesOnDisk(CacheDir()), 0u);
  EXPECT_FALSE(cache->Contains(*key, 0));
  EXPECT_EQ(cache->Load(*key, 0, kBlockSize), nullptr);
  EXPECT_EQ(cache->StoredBytesOf(*key), 0u);
}

TEST_F(DiskCacheTest, OpenCreatesTheDirectoryWithItsParentsAndAFormatFile) {
  DiskCacheOptions options = Options();
  options.directory = dir_.path() + "/a/b/c/";
  ASSERT_NE(Open(options), nullptr);
  std::ifstream format(dir_.path() + "/a/b/c/format");
  std::string line;
  std::getline(format, line);
  EXPECT_EQ(line, "rangefs disk cache 1");
  EXPECT_TRUE(fs::is_directory(dir_.path() + "/a/b/c/blocks"));
  EXPECT_TRUE(fs::is_directory(dir_.path() + "/a/b/c/tmp"));
  ASSERT_NE(Open(options), nullptr);  // and opens it again
}

TEST_F(DiskCacheTest, OpenRefusesAnotherFormat) {
  fs::create_directories(CacheDir());
  std::ofstream(CacheDir() + "/format") << "rangefs disk cache 2\n";
  const Result<std::unique_ptr<DiskCache>> cache =
      DiskCacheOpener::Open(Options(), files_, tuning_);
  ASSERT_FALSE(cache.ok());
  EXPECT_NE(cache.status().message().find("a cache of another format (\"rangefs disk cache 2\")"),
            std::string::npos)
      << cache.status().message();
  EXPECT_FALSE(fs::exists(CacheDir() + "/index.sqlite"));
}

TEST_F(DiskCacheTest, OpenRefusesAForeignDirectory) {
  fs::create_directories(CacheDir());
  std::ofstream(CacheDir() + "/thesis.tex") << "\\documentclass{article}\n";
  const Result<std::unique_ptr<DiskCache>> cache =
      DiskCacheOpener::Open(Options(), files_, tuning_);
  ASSERT_FALSE(cache.ok());
  EXPECT_NE(cache.status().message().find(CacheDir() + ": not a rangefs cache directory"),
            std::string::npos)
      << cache.status().message();
  EXPECT_EQ(std::distance(fs::directory_iterator(CacheDir()), fs::directory_iterator()), 1);
}

TEST_F(DiskCacheTest, OpenRemovesTheTemporaryFilesOfDeadWriters) {
  ASSERT_NE(Open(Options()), nullptr);
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  const std::string dead = CacheDir() + "/tmp/" + std::to_string(child) + "-0.tmp";
  const std::string alive = CacheDir() + "/tmp/" + std::to_string(::getpid()) + "-0.tmp";
  std::ofstream(dead) << "torn";
  std::ofstream(alive) << "being written";
  ASSERT_NE(Open(Options()), nullptr);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive));
}

TEST_F(DiskCacheTest, ABlockStoredByOneCacheLoadsInAnother) {
  auto first = Open(Options());
  auto second = Open(Options());
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  const FileKeyPtr key = Key('a');
  first->Offer(key, 9, MakeBlock(*key, 9));
  first->Flush();
  const BlockPtr loaded = second->Load(*key, 9, kBlockSize);
  ASSERT_NE(loaded, nullptr);
  EXPECT_TRUE(SameBytes(*loaded, *MakeBlock(*key, 9)));
  EXPECT_EQ(second->StoredBytesOf(*key), kBlockSize);
}

TEST_F(DiskCacheTest, TwoCachesOnOneDirectoryShareItsBoundAndNeverServeATornBlock) {
  const uint64_t max_bytes = 24 * FileSize();
  tuning_.clock = nullptr;
  std::unique_ptr<DiskCache> caches[2] = {Open(Options(max_bytes)), Open(Options(max_bytes))};
  ASSERT_NE(caches[0], nullptr);
  ASSERT_NE(caches[1], nullptr);
  const std::vector<FileKeyPtr> keys = {Key('a'), Key('b'), Key('c'), Key('d')};
  std::atomic<int> wrong{0};
  std::atomic<int> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      DiskCache& cache = *caches[t % 2];
      std::mt19937 random(static_cast<unsigned>(t));
      for (int i = 0; i < 300; ++i) {
        const FileKeyPtr& key = keys[random() % keys.size()];
        const uint64_t index = random() % 16;
        if (const BlockPtr block = cache.Load(*key, index, kBlockSize)) {
          ++hits;
          if (!SameBytes(*block, *MakeBlock(*key, index))) ++wrong;
        } else if (t < 2) {
          cache.Offer(key, index, MakeBlock(*key, index));
        } else {
          (void)cache.Store(*key, index, *MakeBlock(*key, index));
        }
        if (i % 50 == 0) {
          cache.Flush();
          EXPECT_LE(cache.stats().used_bytes, max_bytes + 32 * FileSize());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  caches[0]->Flush();
  caches[1]->Flush();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(hits.load(), 0);
  const uint64_t used = caches[1]->stats().used_bytes;
  const uint64_t on_disk = BytesOnDisk(CacheDir());
  EXPECT_LE(used, max_bytes);
  EXPECT_LE(on_disk, max_bytes + 4 * FileSize());
  EXPECT_LE(used > on_disk ? used - on_disk : on_disk - used, 4 * FileSize())
      << "index " << used << ", files " << on_disk;
  EXPECT_GT(caches[0]->stats().evictions + caches[1]->stats().evictions, 0u);
}

}  // namespace
}  // namespace rangefs
