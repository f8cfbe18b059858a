// CacheIndex: the SQLite index of a cache directory (DIR/index.sqlite), shared by every
// process that uses the directory. One row per block: the block file's name (the 32-hex hash of
// its FileKey, `file`) and index, its bytes on disk, and its last use (µs since the epoch); and
// one row holding the total of the bytes, kept by triggers on insert and delete, so the total
// is read in O(1) at start-up, whatever the number of blocks.
//
// Every change that accounts space happens in one BEGIN IMMEDIATE transaction (Reserve): the
// new rows, then the eviction of the least recently used rows that brings the total back within
// the limit. SQLite's write lock serializes these transactions across processes, so two
// writers never both count the same free space. Files are written after the rows that account
// them commit. Evicted files are removed inside the transaction, while it holds the write
// lock: removed after the commit, another process could reserve the same block again in
// between, find the old file still there, keep it, and then lose it to the late removal (a row
// without a file). A commit that fails after the removals leaves rows without files: misses,
// written again when next offered. A row may also be evicted between its reservation and the
// write of its file (a small cache, many writers): writers check with Missing after writing
// and remove such files, so files without rows stay within a few blocks.
//
// Connection: WAL (readers do not block the writer), synchronous=NORMAL (a power cut may lose
// the last transactions, never corrupt the index; a lost row only leaves a file unaccounted
// until it is read again), busy_timeout 10 s, a page cache of about 2 MB.
//
// Thread-safety: thread-safe (one connection behind a mutex). Not across fork(): open it in the
// process that uses it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rangefs/status.h"

struct sqlite3;

namespace rangefs::disk {

struct BlockName {
  std::string file;  // the hash naming the block's FileKey
  uint64_t index = 0;
  friend bool operator==(const BlockName&, const BlockName&) = default;
};

struct BlockRow {
  BlockName name;
  uint64_t bytes = 0;  // the block file's size
};

struct Reservation {
  // Per requested row, in order: whether the row was there already (its last use is updated;
  // the caller writes the file only if it is missing), whether it was refused (it does not fit
  // within the limit even with every other block evicted: not inserted), neither (inserted: the
  // caller writes the file, or Releases the row if it cannot).
  std::vector<bool> existed;
  std::vector<bool> refused;
  // Rows deleted to make room (their files removed through the callback).
  std::vector<BlockRow> evicted;
  uint64_t used = 0;  // the total after the transaction
};

class CacheIndex {
 public:
  // Opens (creating it and its schema where missing) the index at `path`. Safe when several
  // processes open a fresh directory at once.
  static Result<std::unique_ptr<CacheIndex>> Open(const std::string& path);
  // Opens the index at `path` for reading only, writing nothing at all, in a directory this
  // process may not write: "mode=ro", which needs the WAL's -shm (present while a writer has
  // the index open, or creatable); else "immutable=1" (no -shm, no locks: it reads the database
  // file as it is, without a WAL a writer elsewhere may have, which is fine for the totals it
  // tells; a clean close checkpoints the WAL). Only reads may be asked of it.
  static Result<std::unique_ptr<CacheIndex>> OpenReadOnly(const std::string& path);
  ~CacheIndex();
  CacheIndex(const CacheIndex&) = delete;
  CacheIndex& operator=(const CacheIndex&) = delete;

  // In one transaction: inserts `rows` with last use `now_us` (+ their position, so that the
  // order within a batch is kept), then evicts the least recently used other rows while the
  // total is above `limit`, calling `remove_file` for each before the commit; rows that still
  // do not fit are refused.
  using RemoveFile = std::function<void(const BlockName&)>;
  Result<Reservation> Reserve(std::span<const BlockRow> rows, uint64_t limit, int64_t now_us,
                              const RemoveFile& remove_file = {});
  // Deletes rows (a write that failed, a file that failed its checks). Missing rows are fine.
  Status Release(std::span<const BlockName> names);
  // The names among `names` that have no row (any more): a block written after its row was
  // evicted by another writer, whose file the caller then removes.
  Result<std::vector<BlockName>> Missing(std::span<const BlockName> names);
  // Sets the last use of each named row that exists to at least the time given.
  Status Touch(std::span<const std::pair<BlockName, int64_t>> uses);
  // Bytes and rows of one FileKey's blocks.
  struct FileUsage {
    uint64_t bytes = 0;
    uint64_t blocks = 0;
  };
  Result<FileUsage> UsageOf(std::string_view file);
  // The total of every row's bytes.
  Result<uint64_t> Used();

 private:
  explicit CacheIndex(sqlite3* db);
  Status Exec(const char* sql);  // REQUIRES: mu_ held

  std::mutex mu_;
  sqlite3* db_;  // Guarded by mu_
};

}  // namespace rangefs::disk
