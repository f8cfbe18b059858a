// OpenHandles: the objects behind the handles a FUSE session gave out (file readers, pinned
// directory listings).
//
// Thread-safety: all methods are thread-safe; Get needs no lock, since a handle's object lives
// until the kernel releases that handle.
#pragma once

#include <fuse3/fuse_lowlevel.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace rangefs {

// What opendir and open hand the kernel as `fh`: the object's address, so reads need no lookup.
// The kernel releases every handle it opened, except when the session ends with some still open
// (a signal, an aborted connection): those are freed with the session instead of leaking.
template <typename T>
class OpenHandles {
 public:
  uint64_t Add(std::unique_ptr<T> object) {
    T* const raw = object.get();
    std::lock_guard lock(mu_);
    objects_.emplace(raw, std::move(object));
    return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(raw));
  }
  void Remove(uint64_t handle) {
    std::unique_ptr<T> object;
    {
      std::lock_guard lock(mu_);
      const auto found = objects_.find(Of(handle));
      if (found == objects_.end()) return;
      object = std::move(found->second);
      objects_.erase(found);
    }
    // Destroyed outside the lock: a reader frees blocks, a listing its snapshot.
  }
  static T& Get(const fuse_file_info* fi) { return *Of(fi->fh); }

 private:
  static T* Of(uint64_t handle) { return reinterpret_cast<T*>(static_cast<uintptr_t>(handle)); }

  std::mutex mu_;
  std::unordered_map<T*, std::unique_ptr<T>> objects_;  // Guarded by mu_
};

}  // namespace rangefs
