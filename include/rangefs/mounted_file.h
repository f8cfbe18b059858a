// MountedFile: one file of the mount across the versions the remote goes through. It knows the
// current version, when the server last confirmed it, and the older versions that open handles
// still use; each new version gets a new generation and inode.
//
// Thread-safety: all methods are thread-safe. Revalidation (probe, then Adopt) is serialized by
// the caller through revalidation_mutex(), so one probe answers many concurrent opens.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "rangefs/file_reader.h"
#include "rangefs/file_version.h"
#include "rangefs/readahead_policy.h"
#include "rangefs/remote_file.h"

namespace rangefs {

class MountedFile {
 public:
  using Clock = std::chrono::steady_clock;
  // Maps a generation to the inode of that version; must be injective across all files.
  using InodeOf = std::function<uint64_t(uint64_t generation)>;

  // `info` was probed at `probed_at`.
  MountedFile(std::string name, InodeOf inode_of, RemoteFileInfo info, Clock::time_point probed_at,
              const ReadaheadConfig& readahead);

  const std::string& name() const { return name_; }
  FileVersionPtr current() const;
  bool IsCurrent(const FileVersion& version) const;
  // The version of this generation while it is current or an open handle holds it; else null.
  FileVersionPtr Find(uint64_t generation) const;
  // When the last probe that confirmed or adopted the current version started.
  Clock::time_point confirmed_at() const;

  // Records a probe that started at `probed_at`. When it shows another version than the
  // current one, that version becomes current and the one it replaced is returned; else null.
  FileVersionPtr Adopt(RemoteFileInfo probed, Clock::time_point probed_at);

  // True exactly once per generation: for the first open of that version.
  bool FirstOpenOf(uint64_t generation);

  std::mutex& revalidation_mutex() { return revalidation_mu_; }
  SharedReadahead& readahead() { return readahead_; }

 private:
  const std::string name_;
  const InodeOf inode_of_;
  SharedReadahead readahead_;  // internally synchronized
  std::mutex revalidation_mu_;

  mutable std::mutex mu_;
  FileVersionPtr current_;                                    // Guarded by mu_
  Clock::time_point confirmed_at_;                            // Guarded by mu_
  std::map<uint64_t, std::weak_ptr<const FileVersion>> old_;  // Guarded by mu_
  std::optional<uint64_t> opened_generation_;                 // Guarded by mu_
};

}  // namespace rangefs
