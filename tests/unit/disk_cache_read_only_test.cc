// A cache directory this process may not write: its blocks are served, nothing is kept, and
// nothing in it changes.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "fakes/log_capture.h"
#include "rangefs/disk_cache.h"
#include "unit/disk_cache_fixture.h"

namespace rangefs {
namespace {

using namespace disk_testing;  // NOLINT(build/namespaces): the fixture's helpers

// Every file under `dir`, with its size; not the index's -wal and -shm, which SQLite's
// read-only connection makes here only because the fake's directory is writable underneath.
std::set<std::pair<std::string, uintmax_t>> FilesIn(const std::string& dir) {
  std::set<std::pair<std::string, uintmax_t>> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "index.sqlite-wal" || name == "index.sqlite-shm") continue;
    if (entry.is_regular_file()) files.emplace(entry.path().string(), entry.file_size());
  }
  return files;
}

class DiskCacheReadOnlyTest : public DiskCacheTest {
 protected:
  // A cache holding blocks 0-2 of Key('a'), then made read-only.
  void SetUp() override {
    auto cache = Open(Options());
    ASSERT_NE(cache, nullptr);
    EXPECT_FALSE(cache->read_only());
    for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(cache->Store(*key_, i, *MakeBlock(*key_, i)).ok());
    cache.reset();
    files_->SetReadOnly(true);
  }
  const FileKeyPtr key_ = Key('a');
};

TEST_F(DiskCacheReadOnlyTest, ServesItsBlocksAndKeepsNone) {
  fakes::LogCapture log;
  const auto before = FilesIn(CacheDir());
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  EXPECT_TRUE(cache->read_only());
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(cache->Contains(*key_, i));
    const BlockPtr loaded = cache->Load(*key_, i, kBlockSize);
    ASSERT_NE(loaded, nullptr) << i;
    EXPECT_TRUE(SameBytes(*loaded, *MakeBlock(*key_, i)));
  }
  EXPECT_EQ(cache->StoredBytesOf(*key_), 3 * kBlockSize);
  EXPECT_EQ(cache->stats().used_bytes, 3 * FileSize());

  const int attempts = files_->write_attempts();
  cache->Offer(key_, 4, MakeBlock(*key_, 4));
  cache->Flush();
  const Status stored = cache->Store(*key_, 5, *MakeBlock(*key_, 5));
  EXPECT_FALSE(stored.ok());
  EXPECT_NE(stored.message().find("read-only"), std::string::npos) << stored.message();
  EXPECT_EQ(files_->write_attempts(), attempts) << "a read-only cache tried to write";
  EXPECT_FALSE(cache->Contains(*key_, 4));
  const DiskCacheStats stats = cache->stats();
  EXPECT_EQ(stats.hits, 3u);
  EXPECT_EQ(stats.writes, 0u);
  EXPECT_EQ(stats.errors, 0u);
  EXPECT_EQ(stats.dropped, 0u);
  cache.reset();
  EXPECT_EQ(FilesIn(CacheDir()), before) << "the read-only directory changed";
  EXPECT_EQ(log.Count(spdlog::level::warn), 0u);
}

TEST_F(DiskCacheReadOnlyTest, ABlockThatFailsItsChecksIsAMissAndStaysWhereItIs) {
  const std::string path = PathOf(CacheDir(), *key_, 1);
  const uintmax_t size = fs::file_size(path);
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(size) - 10);
    file.put('\x5a');
  }
  auto cache = Open(Options());
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->Load(*key_, 1, kBlockSize), nullptr);
  EXPECT_EQ(cache->stats().errors, 1u);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(cache->StoredBytesOf(*key_), 3 * kBlockSize) << "its row was released";
}

TEST_F(DiskCacheTest, AnEmptyReadOnlyDirectoryIsNotUsed) {
  fs::create_directories(CacheDir());
  files_->SetReadOnly(true);
  Result<std::unique_ptr<DiskCache>> cache = DiskCacheOpener::Open(Options(), files_, tuning_);
  EXPECT_FALSE(cache.ok());
  EXPECT_TRUE(fs::is_empty(CacheDir()));
}

}  // namespace
}  // namespace rangefs
