// Filesystem: the FUSE-free core of rangefs. A flat, read-only directory (inode 1) holding one
// regular file per mounted URL. The inode table is fixed at construction. The FUSE adapter
// translates kernel requests into these calls and ErrorCodes into errno.
//
// Thread-safety: all methods may be called concurrently. The RangeSource must outlive the
// Filesystem and every FileReader it opened.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rangefs/file_reader.h"
#include "rangefs/range_source.h"
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

class Filesystem {
 public:
  static constexpr uint64_t kRootInode = 1;

  // `mount_time` stands in for the mtime of the directory and of files without Last-Modified.
  Filesystem(RangeSource& source, std::vector<NamedFile> files, std::time_t mount_time);

  Result<Attributes> Lookup(uint64_t parent, std::string_view name) const;
  Result<Attributes> GetAttributes(uint64_t inode) const;
  // "." and ".." first, then the files in mount order.
  Result<std::vector<DirectoryEntry>> ReadDirectory(uint64_t inode) const;
  // Opens a file for reading. The reader pins the file's current version.
  Result<std::unique_ptr<FileReader>> Open(uint64_t inode) const;

 private:
  const NamedFile* FileForInode(uint64_t inode) const;
  Attributes FileAttributes(size_t index) const;

  RangeSource& source_;
  const std::vector<NamedFile> files_;  // inode = index + 2
  const std::time_t mount_time_;
};

}  // namespace rangefs
