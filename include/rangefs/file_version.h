// FileVersion: one version of one file of the mount, as a handle pins it at open. `key` names
// the version independently of this mount (blocks are cached under it); `info` says where to
// ask for its bytes and which validators the answers must carry; `generation` counts the
// versions this mount has seen of the file (0 for the one found at mount time). Immutable once
// made.
//
// VersionRegistry: what a reader asks before fetching for its version, and tells when a
// response shows the remote has moved on.
#pragma once

#include <cstdint>
#include <memory>

#include "rangefs/block.h"
#include "rangefs/file_key.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs {

struct FileVersion {
  uint64_t generation = 0;
  FileKeyPtr key;  // never null
  RemoteFileInfo info;

  BlockKey KeyFor(uint64_t block_index) const { return {key, block_index}; }
};

using FileVersionPtr = std::shared_ptr<const FileVersion>;

// A version of the file `info` describes, cut into blocks of `block_size` bytes.
inline FileVersionPtr MakeFileVersion(RemoteFileInfo info, uint64_t block_size,
                                      uint64_t generation = 0) {
  auto key = std::make_shared<const FileKey>(FileKey::Of(info, block_size));
  return std::make_shared<const FileVersion>(
      FileVersion{.generation = generation, .key = std::move(key), .info = std::move(info)});
}

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
