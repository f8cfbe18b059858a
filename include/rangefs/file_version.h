// FileVersion: one version of one file of the mount. Handles pin the version current when they
// were opened; cache keys carry its generation. Immutable once made.
#pragma once

#include <cstdint>
#include <memory>

#include "rangefs/block.h"
#include "rangefs/remote_file.h"

namespace rangefs {

struct FileVersion {
  uint64_t inode = 0;
  uint64_t generation = 0;  // distinguishes versions of the same inode
  RemoteFileInfo info;

  BlockKey KeyFor(uint64_t block_index) const { return {inode, generation, block_index}; }
};

using FileVersionPtr = std::shared_ptr<const FileVersion>;

}  // namespace rangefs
