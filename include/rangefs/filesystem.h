// Filesystem: the FUSE-free core of rangefs. A flat, read-only directory (inode 1) holding one
// regular file per mounted URL, and the read machinery every file shares: one block cache, one
// fetcher and one prefetcher, so the memory budget holds however many files are open. The FUSE
// adapter translates kernel requests into these calls and ErrorCodes into errno.
//
// Versions: a name resolves to the inode of the file's current version. Lookup and Open first
// confirm that version with the server (a probe) when the last confirmation is older than
// `revalidate_after`, and readers report responses from another version. When the remote has
// changed, the new version gets a new inode, the old one's cached blocks are dropped, the change
// is logged once, and the version listener hears of it (so the kernel forgets the name). Handles
// open on the old inode keep it, and fail reads that cached bytes cannot serve.
//
// Extended attributes (user.rangefs.*) tell where a file comes from, which version an inode
// stands for and what the file has cost; they are answered from memory, without a request.
//
// Thread-safety: all methods may be called concurrently. The RangeSource must outlive the
// Filesystem, and the Filesystem every FileReader it opened.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "rangefs/block_cache.h"
#include "rangefs/block_fetcher.h"
#include "rangefs/file_reader.h"
#include "rangefs/file_version.h"
#include "rangefs/metrics.h"
#include "rangefs/mounted_file.h"
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
  uint64_t generation = 0;  // of the file's version; 0 for the directory
  bool is_directory = false;
  uint64_t size = 0;
  std::time_t mtime = 0;
};

struct DirectoryEntry {
  std::string name;
  Attributes attributes;
};

struct ExtendedAttribute {
  std::string name;
  std::string value;
};

struct OpenedFile {
  std::unique_ptr<FileReader> reader;
  // Whether the kernel may keep pages it cached from earlier opens of this file.
  bool keep_cache = false;
};

class Filesystem final : private VersionRegistry {
 public:
  static constexpr uint64_t kRootInode = 1;
  // Called with a file's name after the remote replaced its version.
  using VersionListener = std::function<void(const std::string& name)>;

  // `mount_time` stands in for the mtime of the directory and of files without Last-Modified.
  // The files were probed just before; `revalidate_after` is how old a confirmation of their
  // version may be when they are looked up or opened (zero: always probe). `metrics`, when
  // given, counts reads, handles and version changes, and gives the extended attributes their
  // traffic counters; it must outlive the Filesystem.
  Filesystem(RangeSource& source, std::vector<NamedFile> files, std::time_t mount_time,
             const ReadOptions& read_options, std::chrono::milliseconds revalidate_after,
             Metrics* metrics = nullptr);
  ~Filesystem() override;

  // Set before serving requests.
  void SetVersionListener(VersionListener listener) { listener_ = std::move(listener); }

  // The attributes of the current version of `name`, confirmed with the server if stale.
  Result<Attributes> Lookup(uint64_t parent, std::string_view name);
  // The attributes of the version this inode stands for. kStaleHandle for a version nothing
  // uses any more.
  Result<Attributes> GetAttributes(uint64_t inode) const;
  // "." and ".." first, then the files in mount order.
  Result<std::vector<DirectoryEntry>> ReadDirectory(uint64_t inode) const;
  // Opens a file for reading; the reader pins the file's version. kStaleHandle when `inode` is
  // not, or after revalidation no longer is, the current version: the caller looks the name up
  // again.
  Result<OpenedFile> Open(uint64_t inode);

  // The extended attributes of an inode, in a fixed order; none for the directory. For a file's
  // inode: user.rangefs.url (the URL given, credentials redacted), .etag and .last_modified
  // (of the version this inode stands for, each only when the server sent one), .cached_bytes
  // (of this version in the block cache), and, with metrics, .requests, .bytes_fetched and
  // .retries (of the file's URL, every version and probe included). kStaleHandle for a
  // version nothing uses any more.
  Result<std::vector<ExtendedAttribute>> ExtendedAttributes(uint64_t inode) const;
  // One of them; kNoSuchAttribute for a name the inode does not have.
  Result<std::string> ExtendedAttributeValue(uint64_t inode, std::string_view name) const;

  // Makes every read that waits for the network give up at once: the session is ending
  // (SIGTERM, unmount), and a reader must not hold it open until its retries run out.
  void RequestStop() { stop_.request_stop(); }

  BlockCacheStats cache_stats() const { return cache_.stats(); }

 private:
  struct Located {
    MountedFile* file = nullptr;
    uint64_t generation = 0;
  };

  // The file and generation an inode stands for; file is null for no file's inode.
  Located Locate(uint64_t inode) const;
  uint64_t InodeFor(size_t file_index, uint64_t generation) const;
  Attributes AttributesOf(const FileVersion& version) const;
  // Probes `file` unless a probe that started after `asked_at` already confirmed it, or (with
  // `suspect` null) its confirmation is younger than revalidate_after_; with `suspect`, unless
  // that version is already replaced. Adopts what the probe shows.
  void Revalidate(MountedFile& file, MountedFile::Clock::time_point asked_at,
                  const FileVersion* suspect);
  MountedFile* FileOf(const FileVersion& version) const;
  // Starts loading the blocks a first open is likely to read next (OpenPrefetchRuns).
  void PrefetchForFirstOpen(const FileVersionPtr& version);

  // VersionRegistry, for the readers.
  bool IsCurrent(const FileVersion& version) const override;
  void ReportChanged(const FileVersion& version, const Status& evidence) override;

  RangeSource& source_;
  BlockCache cache_;
  BlockFetcher fetcher_;
  Prefetcher prefetcher_;
  std::vector<std::unique_ptr<MountedFile>> files_;  // fixed after construction
  const std::time_t mount_time_;
  const std::chrono::milliseconds revalidate_after_;
  const ReadOptions read_options_;
  Metrics* const metrics_;  // may be null
  VersionListener listener_;
  std::stop_source stop_;
};

}  // namespace rangefs
