// MemoryBlockStore: a BlockStore in memory, for unit tests of the read path's second tier. It
// keeps every block offered (Offer stores at once, on the caller's thread), answers Load and
// LoadPart from them, counts loads, part loads and offers, lists touches, and can be told to hold a
// block with the wrong length (a store must never return such a block, so the fetcher must not get
// one either: Load checks length like the disk cache does).
//
// Thread-safety: thread-safe, one mutex, not held while blocks are copied out.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "rangefs/block_store.h"

namespace rangefs::fakes {

class MemoryBlockStore final : public BlockStore {
 public:
  BlockPtr Load(const FileKey& key, uint64_t index, size_t length) override {
    std::lock_guard lock(mu_);
    ++loads_;
    const auto it = blocks_.find({key.ToString(), index});
    if (it == blocks_.end() || it->second->size() != length) return nullptr;
    ++hits_;
    return it->second;
  }

  // Parts are cut at multiples of kPartUnit around what was asked, as the disk cache cuts
  // chunks, so a test sees the reader slice the part rather than get exactly its bytes.
  static constexpr uint64_t kPartUnit = 1024;
  Part LoadPart(const FileKey& key, uint64_t index, size_t length, uint64_t from,
                uint64_t to) override {
    std::lock_guard lock(mu_);
    ++part_loads_;
    const auto it = blocks_.find({key.ToString(), index});
    if (it == blocks_.end() || it->second->size() != length) return {};
    ++hits_;
    const uint64_t begin = from / kPartUnit * kPartUnit;
    const uint64_t end = std::min<uint64_t>(length, (to + kPartUnit - 1) / kPartUnit * kPartUnit);
    auto part = std::make_shared<Block>(static_cast<size_t>(end - begin));
    const auto bytes = it->second->bytes().subspan(static_cast<size_t>(begin), part->size());
    std::copy(bytes.begin(), bytes.end(), part->mutable_bytes().begin());
    return {std::move(part), begin};
  }

  void Touch(const FileKey& key, uint64_t index) override {
    std::lock_guard lock(mu_);
    touches_.push_back({key.ToString(), index});
  }

  void Offer(const FileKeyPtr& key, uint64_t index, BlockPtr block) override {
    std::lock_guard lock(mu_);
    ++offers_;
    blocks_[{key->ToString(), index}] = std::move(block);
  }

  uint64_t StoredBytesOf(const FileKey& key) override {
    std::lock_guard lock(mu_);
    uint64_t bytes = 0;
    for (const auto& [name, block] : blocks_) {
      if (name.first == key.ToString()) bytes += block->size();
    }
    return bytes;
  }

  // Puts a block in the store as if an earlier mount had written it.
  void Put(const FileKey& key, uint64_t index, BlockPtr block) {
    std::lock_guard lock(mu_);
    blocks_[{key.ToString(), index}] = std::move(block);
  }
  bool Holds(const FileKey& key, uint64_t index) const {
    std::lock_guard lock(mu_);
    return blocks_.contains({key.ToString(), index});
  }

  size_t loads() const {
    std::lock_guard lock(mu_);
    return loads_;
  }
  std::vector<std::pair<std::string, uint64_t>> touches() const {
    std::lock_guard lock(mu_);
    return touches_;
  }
  size_t part_loads() const {
    std::lock_guard lock(mu_);
    return part_loads_;
  }
  size_t hits() const {
    std::lock_guard lock(mu_);
    return hits_;
  }
  size_t offers() const {
    std::lock_guard lock(mu_);
    return offers_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, uint64_t>, BlockPtr> blocks_;
  size_t loads_ = 0;
  size_t part_loads_ = 0;
  std::vector<std::pair<std::string, uint64_t>> touches_;
  size_t hits_ = 0;
  size_t offers_ = 0;
};

}  // namespace rangefs::fakes
