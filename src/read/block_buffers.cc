#include "rangefs/block_buffers.h"

#include <sys/mman.h>

#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define RANGEFS_POISON(data, size) ASAN_POISON_MEMORY_REGION(data, size)
#define RANGEFS_UNPOISON(data, size) ASAN_UNPOISON_MEMORY_REGION(data, size)
#else
#define RANGEFS_POISON(data, size) ((void)(data), (void)(size))
#define RANGEFS_UNPOISON(data, size) ((void)(data), (void)(size))
#endif

namespace rangefs {
namespace {

struct Stock {
  std::mutex mu;
  // Mostly one size (the mount's block size); the file's last, shorter block is the exception,
  // so a plain list searched from the back is enough.
  std::vector<std::pair<std::byte*, size_t>> buffers;
  size_t bytes = 0;
};

// Never destroyed: blocks may be freed by threads still running while statics are torn down.
Stock& TheStock() {
  static Stock* stock = new Stock;
  return *stock;
}

// Large buffers are mapped with MAP_POPULATE: the kernel fills in every page in one call instead
// of taking a page fault for each 4 KiB the first copy into the buffer touches, which on this
// project's virtual machines cost as much as the copy.
std::byte* MapPopulated(size_t size) {
  void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (data == MAP_FAILED) throw std::bad_alloc();
  return static_cast<std::byte*>(data);
}

void Unmap(std::byte* data, size_t size) { (void)munmap(data, size); }

}  // namespace

void BlockBuffers::Return::operator()(std::byte* data) const {
  if (data == nullptr) return;
  if (size >= kMinStockedSize) {
    Stock& stock = TheStock();
    std::lock_guard lock(stock.mu);
    if (stock.bytes + size <= kStockBytes) {
      RANGEFS_POISON(data, size);
      stock.buffers.emplace_back(data, size);
      stock.bytes += size;
      return;
    }
    Unmap(data, size);
    return;
  }
  ::operator delete[](data);
}

BlockBuffers::Buffer BlockBuffers::Take(size_t size) {
  if (size >= kMinStockedSize) {
    Stock& stock = TheStock();
    std::lock_guard lock(stock.mu);
    for (auto it = stock.buffers.rbegin(); it != stock.buffers.rend(); ++it) {
      if (it->second != size) continue;
      std::byte* data = it->first;
      stock.buffers.erase(std::next(it).base());
      stock.bytes -= size;
      RANGEFS_UNPOISON(data, size);
      return Buffer(data, Return{size});
    }
  }
  if (size >= kMinStockedSize) return Buffer(MapPopulated(size), Return{size});
  return Buffer(static_cast<std::byte*>(::operator new[](size)), Return{size});
}

size_t BlockBuffers::StockedBytes() {
  Stock& stock = TheStock();
  std::lock_guard lock(stock.mu);
  return stock.bytes;
}

void BlockBuffers::FreeStock() {
  std::vector<std::pair<std::byte*, size_t>> buffers;
  {
    Stock& stock = TheStock();
    std::lock_guard lock(stock.mu);
    buffers.swap(stock.buffers);
    stock.bytes = 0;
  }
  for (const auto& [data, size] : buffers) {
    RANGEFS_UNPOISON(data, size);
    Unmap(data, size);
  }
}

}  // namespace rangefs
