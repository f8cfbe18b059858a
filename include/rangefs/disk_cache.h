// DiskCache: the persistent BlockStore (--cache-dir). Blocks read from the network are kept in
// a directory, one file per block, so a remount, another mount on the same directory, or a
// `rangefs warm` run before, reads them without a range request.
//
// On disk (docs/ARCHITECTURE.md, "Disk cache"):
//   DIR/format          the on-disk format's name and version; another version is not read
//   DIR/index.sqlite    SQLite: one row per block (file, index, bytes, last use) and the total,
//                       shared by every process using DIR (WAL, busy timeout)
//   DIR/blocks/XX/...   one file per block: a header naming the block (its FileKey in full,
//                       index, length) and checksums of header and bytes, then the bytes
//   DIR/tmp/            blocks being written (O_TMPFILE where the filesystem has it)
//
// Writes are atomic (a complete file is linked or renamed into place); reads verify identity,
// length and checksum, and treat anything else as a miss. The size bound (and the free-space
// floor) is enforced in the index, in the same transaction that accounts a new block, by
// evicting the least recently used blocks of every file; so two processes cannot both count
// the same space. Start-up reads the index's total, it does not scan the directory.
//
// Faults (no space, a read-only or vanished directory, permissions) never fail a read: the
// cache logs one line, stops writing, and tries again later.
//
// Thread-safety: thread-safe. One writer thread per DiskCache writes offered blocks and flushes
// the batched last-use times; it starts on first use (an Offer, a hit, a Flush).
//
// Fork: open the cache in the process that uses it (after a daemon's fork): neither the writer
// thread nor the SQLite connection may cross a fork().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "rangefs/block_store.h"
#include "rangefs/status.h"

namespace rangefs {

class DiskCacheOpener;  // src/disk/disk_cache_opener.h: Open with a test's files and timings

struct DiskCacheOptions {
  std::string directory;                    // --cache-dir
  uint64_t max_bytes = uint64_t{10} << 30;  // --disk-cache-size: block bytes kept, at most
  // --disk-cache-min-free: the filesystem keeps at least this much free; the cache evicts (and
  // stops growing) to leave it. Either a byte count or a percentage of the filesystem's size.
  uint64_t min_free_bytes = 0;
  double min_free_percent = 5.0;  // used when min_free_bytes == 0
};

// What the disk cache has done since it started (its own, not the directory's whole history),
// and how much it holds now (the directory's, all processes together).
struct DiskCacheStats {
  uint64_t hits = 0;        // Load found a verified block
  uint64_t misses = 0;      // Load found none (or a bad one)
  uint64_t writes = 0;      // blocks written
  uint64_t evictions = 0;   // blocks this process removed to stay within the bounds
  uint64_t errors = 0;      // failed writes, reads and index updates; blocks that failed checks
  uint64_t dropped = 0;     // offered blocks not written (queue full, writing paused)
  uint64_t used_bytes = 0;  // block bytes in the directory, by the index
  uint64_t max_bytes = 0;   // the configured bound
};

class DiskCache final : public BlockStore {
 public:
  // Opens (creating where missing) the cache in options.directory. An error when the directory
  // cannot be used at all (not creatable, another format, a foreign non-empty directory, an
  // index that cannot be opened): the caller mounts without a disk cache and logs why. A cache
  // of this format that this process may not write is opened read-only (read_only()).
  static Result<std::unique_ptr<DiskCache>> Open(const DiskCacheOptions& options);
  ~DiskCache() override;  // writes what is queued, flushes last-use times, stops the writer

  BlockPtr Load(const FileKey& key, uint64_t index, size_t length) override;
  // Reads and verifies only the 16 KiB chunks that cover [from, to).
  Part LoadPart(const FileKey& key, uint64_t index, size_t length, uint64_t from,
                uint64_t to) override;
  // Records a use of the block (batched with Load hits' last-use times); no effect on a block
  // the cache does not hold.
  void Touch(const FileKey& key, uint64_t index) override;
  void Offer(const FileKeyPtr& key, uint64_t index, BlockPtr block) override;
  uint64_t StoredBytesOf(const FileKey& key) override;

  // Writes the block now, on the caller's thread (rangefs warm): accounted, evicting as
  // needed. An error when it could not be kept: a version without validators
  // (kInvalidArgument), a block that does not fit within the bounds (kLimitExceeded), a failed
  // write (its message the system's: "No space left on device"). Store tries even while
  // offers are paused by a fault.
  Status Store(const FileKey& key, uint64_t index, const Block& block);
  // Whether a block file for (key, index) is present (not verified: Load does that).
  bool Contains(const FileKey& key, uint64_t index);
  // Waits until every block offered so far is written or dropped, and last-use times are in
  // the index (tests, warm, shutdown).
  void Flush();
  // A cache in a directory this process may not write (a read-only mount, another user's
  // directory): Load, Contains and StoredBytesOf serve what is there; Offer keeps nothing (and
  // counts nothing), Store fails, and nothing in the directory is changed: no eviction, no
  // last-use time, no removal of a block that fails its checks.
  bool read_only() const;

  DiskCacheStats stats() const;

 private:
  friend class DiskCacheOpener;
  class Impl;
  explicit DiskCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rangefs
