// FileKey: the name of one version of one remote file, independent of this process and of
// where the bytes are asked for: the file's canonical URL, its size, its validators (ETag and
// Last-Modified, as the server sent them) and the block size its blocks are cut into. Two mounts,
// or one mount before and after a restart, that see the same version make equal keys, so a
// cache keyed by it (blocks are keyed by (FileKey, index)) can outlive the mount.
//
// What a key does not hold is where to ask: the URL a request goes to, its redirect target,
// later mirrors. Those are addresses (RemoteFileInfo), kept beside the key.
//
// Thread-safety: immutable once made; shared as FileKeyPtr.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "rangefs/remote_file.h"

namespace rangefs {

class FileKey {
 public:
  // `canonical_url` as CanonicalUrl makes it; `validator` empty when the version is known by
  // its size only.
  FileKey(std::string canonical_url, uint64_t size, std::string validator, uint64_t block_size);

  // The key of the version `info` describes, with blocks of `block_size` bytes.
  static FileKey Of(const RemoteFileInfo& info, uint64_t block_size);

  const std::string& url() const { return url_; }
  uint64_t size() const { return size_; }
  const std::string& validator() const { return validator_; }
  uint64_t block_size() const { return block_size_; }
  size_t hash() const { return hash_; }

  // One line naming the key, for logs and (later) for naming cached data on disk:
  // "https://h/f.iso 1048576 etag \"5f-1a\" block 1048576".
  std::string ToString() const;

  friend bool operator==(const FileKey& a, const FileKey& b) {
    return a.hash_ == b.hash_ && a.size_ == b.size_ && a.block_size_ == b.block_size_ &&
           a.url_ == b.url_ && a.validator_ == b.validator_;
  }

 private:
  std::string url_;
  uint64_t size_;
  std::string validator_;
  uint64_t block_size_;
  size_t hash_;
};

using FileKeyPtr = std::shared_ptr<const FileKey>;

// The URL as an identity: scheme and host in lower case, credentials, the default port and the
// fragment removed, an empty path written "/". Path and query are kept as given (a server may
// tell "A" from "a" and "%41" from "A"). A URL it cannot take apart is returned unchanged.
std::string CanonicalUrl(std::string_view url);

// What identifies the version among versions of the same size: "etag <ETag as sent>" and
// "last-modified <seconds since the epoch>", each when the server sent it, space-separated; ""
// when it sent neither. Two versions get the same validator exactly when SameVersion says so.
std::string VersionValidator(const RemoteFileInfo& info);

}  // namespace rangefs
