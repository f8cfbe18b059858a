// FileVersion: one version of one file of the mount. Each version has its own inode, so the
// kernel's page cache of one never holds bytes of another. Handles pin the version current when
// they were opened; cache keys carry its inode and generation. Immutable once made.
//
// VersionRegistry: what a reader asks before fetching for its version, and tells when a
// response shows the remote has moved on.
#pragma once

#include <cstdint>
#include <memory>

#include "rangefs/block.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs {

struct FileVersion {
  uint64_t inode = 0;       // unique to this version
  uint64_t generation = 0;  // 0 for the version found at mount time, then 1, 2, ...
  RemoteFileInfo info;

  BlockKey KeyFor(uint64_t block_index) const { return {inode, generation, block_index}; }
};

using FileVersionPtr = std::shared_ptr<const FileVersion>;

class VersionRegistry {
 public:
  virtual ~VersionRegistry() = default;
  // False once the remote is known to have replaced `version`: no request may then be made for
  // it, since a server without validators would answer with bytes of the new one.
  virtual bool IsCurrent(const FileVersion& version) const = 0;
  // A response for `version` came from another version (`evidence` says how). Blocks until the
  // file has been looked at again, so that the next open sees the new version.
  virtual void ReportChanged(const FileVersion& version, const Status& evidence) = 0;
};

}  // namespace rangefs
