// BlockBuffers: a small stock of freed block buffers, handed out again before new memory.
//
// Why: a block is 256 KiB by default, so without reuse every new block is fresh memory that
// the kernel maps in page by page while the block is filled. On a warm re-read from the disk
// cache those page faults cost as much CPU as the copy itself. Blocks of a sequential stream
// are freed (evicted from the memory cache) about as fast as new ones are needed, so a stock of
// a few MiB takes most faults away; new large buffers are mapped with every page present
// (MAP_POPULATE), which spares the rest. Small buffers are cheap for malloc and not kept.
//
// The stock is bounded (`kStockBytes`), so it adds at most that much to the memory the cache's
// own bound counts. Under AddressSanitizer a stocked buffer is poisoned until handed out again,
// so a use after free of a block is still reported.
//
// Thread-safety: thread-safe; Take and Give may be called from any thread.
#pragma once

#include <cstddef>
#include <memory>

namespace rangefs {

class BlockBuffers {
 public:
  // Buffers smaller than this go straight to malloc and back.
  static constexpr size_t kMinStockedSize = 64 * 1024;
  // The most bytes of free buffers kept.
  static constexpr size_t kStockBytes = 16 * 1024 * 1024;

  struct Return {
    size_t size = 0;
    void operator()(std::byte* data) const;
  };
  using Buffer = std::unique_ptr<std::byte[], Return>;

  // Uninitialized storage of `size` bytes: a stocked buffer of exactly that size when there is
  // one, else new memory.
  static Buffer Take(size_t size);

  // What the stock holds now, and emptying it (for tests, which share the process's stock).
  static size_t StockedBytes();
  static void FreeStock();
};

}  // namespace rangefs
