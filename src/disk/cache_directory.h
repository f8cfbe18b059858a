// The layout of a cache directory: where things are, what they are called, and the checks and
// clean-up that make a directory usable at Open.
//
//   DIR/format                 kFormatLine: the on-disk format and its version
//   DIR/index.sqlite (+ -wal, -shm)
//   DIR/blocks/XX/<hash>-<i>   block i of the FileKey whose name hashes to <hash> (32 hex
//                              digits of XXH3-128 of FileKey::ToString(); XX its first two)
//   DIR/tmp/                   temporary files of writes in progress
//
// Thread-safety: free functions; PrepareCacheDirectory may run in several processes at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "disk/cache_files.h"
#include "rangefs/file_key.h"
#include "rangefs/status.h"

namespace rangefs::disk {

inline constexpr std::string_view kFormatLine = "rangefs disk cache 1\n";

// 32 lower-case hex digits naming `key`'s blocks.
std::string FileHashOf(const FileKey& key);

std::string BlockPathOf(const std::string& directory, const std::string& file_hash, uint64_t index);
std::string TempDirOf(const std::string& directory);
std::string IndexPathOf(const std::string& directory);

// How a cache directory can be used.
enum class CacheAccess {
  kReadWrite,
  kReadOnly,  // a cache this process may not write (DIR or its index): its blocks are served
};

// Makes `directory` a cache directory or checks that it is one: creates it (with its parents)
// when missing, writes the format file into an empty one, refuses another format or a
// non-empty directory without a format file, creates blocks/ and tmp/, and removes temporary
// files of writers that are gone. A cache of this format that this process may not write
// (`directory` or its index.sqlite) is kReadOnly, and left exactly as it is. Reads no block
// and no subdirectory of blocks/.
Result<CacheAccess> PrepareCacheDirectory(CacheFiles& files, const std::string& directory);

}  // namespace rangefs::disk
