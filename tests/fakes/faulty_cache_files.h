// FaultyCacheFiles: the real cache filesystem operations with faults a test switches on: writes
// failing with an errno (ENOSPC, EROFS, EACCES), a read-only directory, and a filesystem of a
// given capacity, whose free space is the capacity less the bytes of the cache's block files
// (counted on each SpaceOf: tests keep directories small; the index's own files, whose WAL
// grows and shrinks at SQLite's pace, are left out).
//
// Thread-safety: thread-safe; faults may be switched while the cache's writer runs.
#pragma once

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "disk/cache_files.h"

namespace rangefs::fakes {

class FaultyCacheFiles final : public disk::CacheFiles {
 public:
  FaultyCacheFiles() : real_(disk::RealCacheFiles()) {}

  // Writes fail with `error` from now on (0: they work again).
  void FailWritesWith(int error) {
    std::lock_guard lock(mu_);
    write_error_ = error;
  }
  // From now on the directory is read-only, as a read-only mount makes it: Writable is false,
  // and writes, removals and new directories fail with EROFS.
  void SetReadOnly(bool read_only) {
    std::lock_guard lock(mu_);
    read_only_ = read_only;
  }
  // SpaceOf reports a filesystem of `capacity` bytes holding only the cache's files.
  void SetCapacity(uint64_t capacity) {
    std::lock_guard lock(mu_);
    capacity_ = capacity;
  }
  // Writes wait from now on until ReleaseWrites; WaitForHeldWrite waits until one does.
  void HoldWrites() {
    std::lock_guard lock(mu_);
    hold_writes_ = true;
  }
  void ReleaseWrites() {
    std::lock_guard lock(mu_);
    hold_writes_ = false;
    changed_.notify_all();
  }
  void WaitForHeldWrite() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [this] { return held_writes_ > 0; });
  }
  // While writes are held: lets the next `count` through (one at a time, as the writer makes
  // them); WaitForHeldWrite(n) waits until the n-th write attempt (write_attempts()) is the one
  // held.
  void LetWritesThrough(int count) {
    std::lock_guard lock(mu_);
    passes_ += count;
    changed_.notify_all();
  }
  void WaitForHeldWrite(int attempt) {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return write_attempts_ >= attempt && held_writes_ > 0; });
  }
  int write_attempts() const {
    std::lock_guard lock(mu_);
    return write_attempts_;
  }

  Status WriteAtomically(const std::string& temp_dir, const std::string& path,
                         std::span<const std::span<const std::byte>> parts) override {
    {
      std::unique_lock lock(mu_);
      ++write_attempts_;
      if (read_only_) return ReadOnlyError();
      if (write_error_ != 0) return Status(ErrorCode::kInternal, std::strerror(write_error_));
      ++held_writes_;
      changed_.notify_all();
      changed_.wait(lock, [this] { return !hold_writes_ || passes_ > 0; });
      if (hold_writes_) --passes_;
      --held_writes_;
    }
    return real_->WriteAtomically(temp_dir, path, parts);
  }
  Result<uint64_t> ReadAt(const std::string& path, uint64_t expected_size,
                          std::span<std::byte> header, uint64_t offset,
                          std::span<std::byte> data) override {
    return real_->ReadAt(path, expected_size, header, offset, data);
  }
  Result<std::string> ReadSmallFile(const std::string& path) override {
    return real_->ReadSmallFile(path);
  }
  Status Remove(const std::string& path) override {
    if (ReadOnly()) return ReadOnlyError();
    return real_->Remove(path);
  }
  bool Exists(const std::string& path) override { return real_->Exists(path); }
  bool Writable(const std::string& path) override { return !ReadOnly() && real_->Writable(path); }
  Status MakeDirectories(const std::string& path) override {
    if (ReadOnly() && !real_->Exists(path)) return ReadOnlyError();
    return real_->MakeDirectories(path);
  }
  Result<std::vector<std::string>> List(const std::string& path) override {
    return real_->List(path);
  }
  Result<disk::FreeSpace> SpaceOf(const std::string& path) override {
    std::optional<uint64_t> capacity;
    {
      std::lock_guard lock(mu_);
      capacity = capacity_;
    }
    if (!capacity) return real_->SpaceOf(path);
    uint64_t in_use = 0;
    std::error_code error;
    for (auto it = std::filesystem::recursive_directory_iterator(path + "/blocks", error);
         !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
      std::error_code size_error;
      if (it->is_regular_file(size_error)) {
        const uintmax_t size = it->file_size(size_error);
        if (!size_error) in_use += size;
      }
    }
    return disk::FreeSpace{*capacity > in_use ? *capacity - in_use : 0, *capacity};
  }

 private:
  bool ReadOnly() const {
    std::lock_guard lock(mu_);
    return read_only_;
  }
  static Status ReadOnlyError() { return Status(ErrorCode::kInternal, std::strerror(EROFS)); }

  const std::shared_ptr<disk::CacheFiles> real_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool hold_writes_ = false;          // Guarded by mu_
  int held_writes_ = 0;               // writes waiting in WriteAtomically; Guarded by mu_
  int passes_ = 0;                    // held writes still let through; Guarded by mu_
  int write_error_ = 0;               // Guarded by mu_
  bool read_only_ = false;            // Guarded by mu_
  std::optional<uint64_t> capacity_;  // Guarded by mu_
  int write_attempts_ = 0;            // Guarded by mu_
};

}  // namespace rangefs::fakes
