// CacheFiles: the filesystem operations of a cache directory, behind an interface so that unit
// tests can inject faults (ENOSPC, EROFS, EACCES) and free-space figures around the real one.
//
// Errors are Status values whose message is the system's text for the error ("No space left on
// device"); a missing file is kNotFound, every other failure kInternal.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rangefs/status.h"

namespace rangefs::disk {

struct FreeSpace {
  uint64_t available = 0;  // bytes an unprivileged writer may still use
  uint64_t total = 0;      // the filesystem's size
};

class CacheFiles {
 public:
  virtual ~CacheFiles() = default;

  // Writes `parts`, one after the other, as the complete file `path`, atomically: `path` is
  // either absent or complete. Temporary files go in `temp_dir` (same filesystem); the parent of
  // `path` is created when missing. A file already at `path` is kept (another writer put the
  // same block there).
  virtual Status WriteAtomically(const std::string& temp_dir, const std::string& path,
                                 std::span<const std::span<const std::byte>> parts) = 0;
  // Reads `header` from the start of `path` and `data` from byte `offset`, when the file is
  // exactly `expected_size` bytes long; returns the file's size either way (a size that
  // differs, or a file that shrank while read, means nothing usable was read).
  virtual Result<uint64_t> ReadAt(const std::string& path, uint64_t expected_size,
                                  std::span<std::byte> header, uint64_t offset,
                                  std::span<std::byte> data) = 0;
  // A small whole file (the format file).
  virtual Result<std::string> ReadSmallFile(const std::string& path) = 0;
  // Removes a file; a missing one is fine.
  virtual Status Remove(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Whether this process may write `path` (a read-only mount, permissions, an immutable file:
  // access(W_OK)).
  virtual bool Writable(const std::string& path) = 0;
  // Creates `path` and its missing parents.
  virtual Status MakeDirectories(const std::string& path) = 0;
  // The names in a directory (not "." and "..").
  virtual Result<std::vector<std::string>> List(const std::string& path) = 0;
  virtual Result<FreeSpace> SpaceOf(const std::string& path) = 0;
};

// The real filesystem: O_TMPFILE + linkat where the filesystem has it, else a named temporary
// file "<pid>-<n>.tmp" in temp_dir and rename; reads with pread into the caller's buffers;
// statvfs.
std::shared_ptr<CacheFiles> RealCacheFiles();

// Whether `name` has the shape of RealCacheFiles' named temporary files ("<pid>-<n>.tmp").
bool IsTempFileName(const std::string& name);

// Whether a temporary file name written by RealCacheFiles belongs to a process that is gone
// (its writer crashed): such files are removed at Open.
bool IsOrphanTempFile(const std::string& name);

}  // namespace rangefs::disk
