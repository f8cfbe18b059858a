// Block: an immutable run of bytes of one version of one remote file, the unit the cache keeps.
// BlockKey names it: (file, version, index). Because the version is part of the key, blocks of
// a remote file that has since changed can never be served for the new version.
//
// Thread-safety: a Block is written by one loader before it is published, and only read after.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

namespace rangefs {

struct BlockKey {
  uint64_t file = 0;     // inode of the file in the mount
  uint64_t version = 0;  // generation of the file's content, bumped when the remote changes
  uint64_t index = 0;    // offset / block size
  friend bool operator==(const BlockKey&, const BlockKey&) = default;
};

struct BlockKeyHash {
  size_t operator()(const BlockKey& key) const {
    // splitmix64-style mixing: indexes are small consecutive integers, which a plain XOR of
    // std::hash values would cluster.
    uint64_t h = key.file * 0x9E3779B97F4A7C15ULL ^ key.version * 0xC2B2AE3D27D4EB4FULL ^ key.index;
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBULL;
    h ^= h >> 31;
    return static_cast<size_t>(h);
  }
};

class Block {
 public:
  // Uninitialized storage of `size` bytes, to be filled by the loader before publication.
  explicit Block(size_t size)
      : data_(std::make_unique_for_overwrite<std::byte[]>(size)), size_(size) {}

  size_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_.get(), size_}; }
  std::span<std::byte> mutable_bytes() { return {data_.get(), size_}; }

 private:
  std::unique_ptr<std::byte[]> data_;
  size_t size_;
};

using BlockPtr = std::shared_ptr<const Block>;

}  // namespace rangefs
