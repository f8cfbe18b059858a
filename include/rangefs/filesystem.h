// Filesystem: the FUSE-free core of rangefs. A flat, read-only directory (inode 1) holding one
// regular file per mounted URL, and the read machinery every file shares: one block cache, one
// fetcher and one prefetcher, so the memory budget holds however many files are open. The FUSE
// adapter translates kernel requests into these calls and ErrorCodes into errno.
//
// Thread-safety: all methods may be called concurrently. The RangeSource must outlive the
// Filesystem, and the Filesystem every FileReader it opened.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rangefs/block_cache.h"
#include "rangefs/block_fetcher.h"
#include "rangefs/file_reader.h"
#include "rangefs/file_version.h"
#include "rangefs/prefetcher.h"
#include "rangefs/range_source.h"
#include "rangefs/read_options.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs {

struct NamedFile {
  std::string name;
  RemoteFileInfo info;
};

struct Attributes {
  uint64_t inode = 0;
  bool is_directory = false;
  uint64_t size = 0;
  std::time_t mtime = 0;
};

struct DirectoryEntry {
  std::string name;
  Attributes attributes;
};

struct OpenedFile {
  std::unique_ptr<FileReader> reader;
  // Whether the kernel may keep pages it cached from earlier opens of this file.
  bool keep_cache = false;
};

class Filesystem {
 public:
  static constexpr uint64_t kRootInode = 1;

  // `mount_time` stands in for the mtime of the directory and of files without Last-Modified.
  Filesystem(RangeSource& source, std::vector<NamedFile> files, std::time_t mount_time,
             const ReadOptions& read_options);
  ~Filesystem();

  Result<Attributes> Lookup(uint64_t parent, std::string_view name) const;
  Result<Attributes> GetAttributes(uint64_t inode) const;
  // "." and ".." first, then the files in mount order.
  Result<std::vector<DirectoryEntry>> ReadDirectory(uint64_t inode) const;
  // Opens a file for reading. The reader pins the file's current version.
  Result<OpenedFile> Open(uint64_t inode);

  BlockCacheStats cache_stats() const { return cache_.stats(); }

 private:
  struct Node;

  const Node* NodeForInode(uint64_t inode) const;
  Attributes FileAttributes(const Node& node) const;

  BlockCache cache_;
  BlockFetcher fetcher_;
  Prefetcher prefetcher_;
  std::vector<std::unique_ptr<Node>> nodes_;  // inode = index + 2; fixed after construction
  const std::time_t mount_time_;
};

}  // namespace rangefs
