// DiskCacheTest: the fixture of the DiskCache unit tests (disk_cache*_test.cc): a cache in a
// temporary directory, opened on FaultyCacheFiles (faults a test switches on) with a manual
// clock; keys and blocks whose bytes tell them apart.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "disk/block_file.h"
#include "disk/cache_directory.h"
#include "disk/disk_cache_opener.h"
#include "fakes/faulty_cache_files.h"
#include "fakes/manual_scheduler.h"
#include "fakes/temp_dir.h"
#include "rangefs/disk_cache.h"

namespace rangefs::disk_testing {

namespace fs = std::filesystem;
using std::chrono_literals::operator""s;

inline constexpr uint64_t kBlockSize = 4096;

// Keys of one URL length (so their block files have one size) and of one version unless told.
inline FileKeyPtr Key(char name, std::string validator = "etag \"v1\"") {
  return std::make_shared<const FileKey>(std::string("https://h/file-") + name, 64 * kBlockSize,
                                         std::move(validator), kBlockSize);
}

// Block `index` of `key`: bytes that depend on both, so a block served for another is seen.
inline BlockPtr MakeBlock(const FileKey& key, uint64_t index, size_t size = kBlockSize) {
  auto block = std::make_shared<Block>(size);
  const size_t seed = key.hash() + index * 31;
  auto bytes = block->mutable_bytes();
  for (size_t i = 0; i < size; ++i)
    bytes[i] = std::byte(static_cast<uint8_t>((seed + i * 13) >> 2));
  return block;
}

inline bool SameBytes(const Block& a, const Block& b) {
  return a.size() == b.size() && std::memcmp(a.bytes().data(), b.bytes().data(), a.size()) == 0;
}

// The size of one block file of Key(...).
inline uint64_t FileSize() {
  return disk::BlockHeaderSize(Key('a')->ToString(), kBlockSize) + kBlockSize;
}

inline std::string PathOf(const std::string& dir, const FileKey& key, uint64_t index) {
  return disk::BlockPathOf(dir, disk::FileHashOf(key), index);
}

// Bytes of the block files in the directory, as the filesystem has them.
inline uint64_t BytesOnDisk(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir + "/blocks")) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

// Flips one byte of a stored block's file at `offset` from its end (data) or start (header).
inline void FlipByte(const std::string& path, std::streamoff offset, std::ios::seekdir from) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file) << path;
  file.seekg(offset, from);
  char c = 0;
  file.get(c);
  file.seekp(offset, from);
  file.put(static_cast<char>(c ^ 0x20));
}

class DiskCacheTest : public ::testing::Test {
 protected:
  DiskCacheTest() { tuning_.clock = &clock_; }

  DiskCacheOptions Options(uint64_t max_bytes = uint64_t{1} << 30) const {
    DiskCacheOptions options;
    options.directory = dir_.path() + "/cache";
    options.max_bytes = max_bytes;
    options.min_free_bytes = 1;  // the test machine's free space must not matter
    return options;
  }
  std::unique_ptr<DiskCache> Open(const DiskCacheOptions& options) {
    Result<std::unique_ptr<DiskCache>> cache = DiskCacheOpener::Open(options, files_, tuning_);
    EXPECT_TRUE(cache.ok()) << cache.status().ToString();
    return cache.ok() ? std::move(cache).value() : nullptr;
  }
  std::string CacheDir() const { return dir_.path() + "/cache"; }

  fakes::TempDir dir_;
  fakes::ManualScheduler clock_;
  std::shared_ptr<fakes::FaultyCacheFiles> files_ = std::make_shared<fakes::FaultyCacheFiles>();
  DiskCacheTuning tuning_;
};

}  // namespace rangefs::disk_testing
