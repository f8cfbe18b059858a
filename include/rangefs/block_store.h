// BlockStore: a second tier of blocks behind the memory cache, kept outside this process (the
// disk cache, disk_cache.h), keyed as the memory cache is by (FileKey, index). The read path
// asks it before the network for blocks the memory cache lacks, and offers it every block the
// network brought.
//
// A store never serves a block it cannot verify: what it returns has the key's identity, the
// expected length and a matching checksum; anything else is a miss. It may refuse to keep a
// block (no space, a version without validators, a full write queue) without telling the
// caller: keeping is best effort, serving is exact.
//
// Thread-safety: implementations are thread-safe. Load may block on local I/O (call it off the
// FUSE thread when that matters); Offer never blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "rangefs/block.h"

namespace rangefs {

class BlockStore {
 public:
  virtual ~BlockStore() = default;

  // Block `index` of `key`, exactly `length` bytes, verified; null when the store does not
  // hold it (or what it held failed verification: dropped and counted then).
  virtual BlockPtr Load(const FileKey& key, uint64_t index, size_t length) = 0;

  // Bytes [from, to) of block `index` of `key` (a block of `length` bytes) for a reader that
  // needs only those: `bytes` holds data bytes [offset, offset + bytes->size()) of the block,
  // a run that covers [from, to), all of it verified. Null `bytes` as for Load. A store that
  // can verify parts reads only what covers them; by default the whole block is loaded.
  // REQUIRES: from < to <= length.
  struct Part {
    BlockPtr bytes;
    uint64_t offset = 0;
  };
  virtual Part LoadPart(const FileKey& key, uint64_t index, size_t length, uint64_t from,
                        uint64_t to) {
    (void)from;
    (void)to;
    return {Load(key, index, length), 0};
  }

  // Asks the store to keep `block` (block `index` of `key`), later, on its own thread. Never
  // blocks; may drop the block.
  virtual void Offer(const FileKeyPtr& key, uint64_t index, BlockPtr block) = 0;

  // Block `index` of `key` was just read from memory: a use, for the store's LRU order. Never
  // blocks; a block the store does not hold is ignored. By default nothing.
  virtual void Touch(const FileKey& key, uint64_t index) {
    (void)key;
    (void)index;
  }

  // Bytes of `key` the store holds, for user.rangefs.disk_cached_bytes.
  virtual uint64_t StoredBytesOf(const FileKey& key) = 0;
};

}  // namespace rangefs
