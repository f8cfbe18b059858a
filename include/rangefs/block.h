// Block: an immutable run of bytes of one version of one remote file, the unit the cache keeps.
// BlockKey names it: (FileKey, index). Because the file's version is part of its FileKey,
// blocks of a remote file that has since changed can never be served for the new version; and
// because the FileKey owes nothing to this process, the name outlives the mount.
//
// Thread-safety: a Block is written by one loader before it is published, and only read after.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "rangefs/block_buffers.h"
#include "rangefs/file_key.h"

namespace rangefs {

struct BlockKey {
  FileKeyPtr file;     // never null
  uint64_t index = 0;  // offset / block size
  friend bool operator==(const BlockKey& a, const BlockKey& b) {
    // Keys of one file share one FileKey: comparing the pointers first spares the strings.
    return a.index == b.index && (a.file == b.file || *a.file == *b.file);
  }
};

struct BlockKeyHash {
  size_t operator()(const BlockKey& key) const {
    // splitmix64-style mixing: indexes are small consecutive integers, which a plain XOR of
    // std::hash values would cluster.
    uint64_t h = uint64_t{key.file->hash()} * 0x9E3779B97F4A7C15ULL ^ key.index;
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
  // Uninitialized storage of `size` bytes, to be filled by the loader before publication;
  // recycled from freed blocks where possible (block_buffers.h says why).
  explicit Block(size_t size) : data_(BlockBuffers::Take(size)), size_(size) {}

  size_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_.get(), size_}; }
  std::span<std::byte> mutable_bytes() { return {data_.get(), size_}; }

 private:
  BlockBuffers::Buffer data_;
  size_t size_;
};

using BlockPtr = std::shared_ptr<const Block>;

}  // namespace rangefs
