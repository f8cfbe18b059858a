// Filesystem: the FUSE-free core of rangefs. A read-only directory (the root) holding one
// regular file per mounted URL, and the read machinery every file shares: one block cache, one
// fetcher and one prefetcher, so the memory budget holds however many files are open. Files
// may be added after construction. The FUSE adapter translates kernel requests into these
// calls, inode numbers into Nodes (its own table) and ErrorCodes into errno.
//
// Versions: a name resolves to the Node of the file's current version. Lookup and Open first
// confirm that version with the server (a probe, single-flight per file, with no lock held
// while it runs) when the last confirmation is older than `revalidate_after` by the scheduler's
// clock, and readers report responses from another version. When the remote has changed, the
// new version gets a new Node, the old one's cached blocks are dropped, the change is logged
// once, and the version listener hears of it (so the kernel forgets the name). Handles open on
// the old version keep it, and fail reads that cached bytes cannot serve.
//
// Extended attributes (user.rangefs.*) tell where a file comes from, which version a Node
// stands for and what the file has cost; they are answered from memory, without a request.
//
// Thread-safety: all methods may be called concurrently. The RangeSource and the Scheduler must
// outlive the Filesystem, and the Filesystem every FileReader it opened.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <unordered_map>
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
#include "rangefs/scheduler.h"
#include "rangefs/status.h"

namespace rangefs {

struct NamedFile {
  std::string name;
  RemoteFileInfo info;
};

// What an inode stands for: the root directory, or one version of one file. A value, cheap to
// copy and compare; holding one keeps its file (not its version) alive.
struct Node {
  std::shared_ptr<MountedFile> file;  // null for the root directory
  uint64_t generation = 0;            // of the file's version
  friend bool operator==(const Node&, const Node&) = default;
};

struct NodeHash {
  size_t operator()(const Node& node) const {
    return std::hash<const MountedFile*>{}(node.file.get()) ^
           (node.generation * 0x9E3779B97F4A7C15ULL);
  }
};

struct Attributes {
  Node node;
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

class Filesystem final {
 public:
  // Called with a file's name after the remote replaced its version.
  using VersionListener = std::function<void(const std::string& name)>;

  // `mount_time` stands in for the mtime of the directory and of files without Last-Modified.
  // The files were probed just before; `revalidate_after` is how old (by `clock`) a
  // confirmation of their version may be when they are looked up or opened (zero: always
  // probe). `metrics`, when given, counts reads, handles and version changes, and gives the
  // extended attributes their traffic counters; it must outlive the Filesystem.
  Filesystem(RangeSource& source, const Scheduler& clock, std::vector<NamedFile> files,
             std::time_t mount_time, const ReadOptions& read_options,
             std::chrono::milliseconds revalidate_after, Metrics* metrics = nullptr);
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Set before serving requests.
  void SetVersionListener(VersionListener listener) { listener_ = std::move(listener); }

  // Adds a file to the root directory, probed just before (as the constructor's files were).
  // kInvalidArgument when the name is taken or not a plain file name.
  Status AddFile(NamedFile file);

  static Node Root() { return {}; }

  // The attributes of the current version of `name`, confirmed with the server if stale.
  Result<Attributes> Lookup(const Node& parent, std::string_view name);
  // The attributes of the version this node stands for. kStaleHandle for a version nothing
  // uses any more.
  Result<Attributes> GetAttributes(const Node& node) const;
  // "." and ".." first, then the files in the order they were added.
  Result<std::vector<DirectoryEntry>> ReadDirectory(const Node& node) const;
  // Opens a file for reading; the reader pins the file's version. kStaleHandle when `node` is
  // not, or after revalidation no longer is, the current version: the caller looks the name up
  // again.
  Result<OpenedFile> Open(const Node& node);

  // The extended attributes of a node, in a fixed order; none for the directory. For a file's
  // version: user.rangefs.url (the URL given, credentials redacted), .etag and .last_modified
  // (of that version, each only when the server sent one), .cached_bytes (of this version in
  // the block cache), and, with metrics, .requests, .bytes_fetched and .retries (of the file's
  // URL, every version and probe included). kStaleHandle for a version nothing uses any more.
  Result<std::vector<ExtendedAttribute>> ExtendedAttributes(const Node& node) const;
  // One of them; kNoSuchAttribute for a name the node does not have.
  Result<std::string> ExtendedAttributeValue(const Node& node, std::string_view name) const;

  // Makes every read that waits for the network give up at once: the session is ending
  // (SIGTERM, unmount), and a reader must not hold it open until its retries run out.
  void RequestStop() { stop_.request_stop(); }

  BlockCacheStats cache_stats() const { return cache_.stats(); }

 private:
  // The file named `name`, or null.
  std::shared_ptr<MountedFile> FileNamed(std::string_view name) const;
  // The version `node` stands for: kNotFound for the root, kStaleHandle for a version nothing
  // uses any more.
  Result<FileVersionPtr> VersionOf(const Node& node) const;
  Attributes AttributesOf(const std::shared_ptr<MountedFile>& file,
                          const FileVersion& version) const;
  // Probes `file` as MountedFile::Revalidate says, and acts on what a probe found: logs, drops
  // the replaced version's blocks, tells the listener. Holds no lock.
  void Revalidate(MountedFile& file, MountedFile::Clock::time_point asked_at,
                  const FileVersion* suspect);
  // Starts loading the blocks a first open is likely to read next (OpenPrefetchRuns).
  void PrefetchForFirstOpen(const FileVersionPtr& version);

  RangeSource& source_;
  const Scheduler& clock_;
  BlockCache cache_;
  BlockFetcher fetcher_;
  Prefetcher prefetcher_;
  const std::time_t mount_time_;
  const std::chrono::milliseconds revalidate_after_;
  const ReadOptions read_options_;
  const ReadaheadConfig readahead_;
  Metrics* const metrics_;  // may be null
  VersionListener listener_;
  std::stop_source stop_;

  mutable std::shared_mutex files_mu_;
  std::vector<std::shared_ptr<MountedFile>> files_;  // in order added; Guarded by files_mu_
  std::unordered_map<std::string, std::shared_ptr<MountedFile>> by_name_;  // Guarded by files_mu_
};

}  // namespace rangefs
