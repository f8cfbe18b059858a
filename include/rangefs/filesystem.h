// Filesystem: the FUSE-free core of rangefs. A read-only tree of directories and files, and the
// read machinery every file shares: one block cache, one fetcher and one prefetcher, so the
// memory budget holds however many files are open. The FUSE adapter translates kernel requests
// into these calls, inode numbers into Nodes (its own table) and ErrorCodes into errno.
//
// The tree: the root holds the files and directories the command line and the URL file name
// (their paths may have folders), or is itself a remote directory. A remote directory is
// listed when first used and again once its listing is older than the directory TTL; its
// files are probed only when needed: a size the listing states exactly serves lookups until
// the file is opened, any other size is probed at the first lookup. A tool that reads a
// directory and then looks at its entries one by one (ls -l, find) has the entries after the
// one it looks at probed or listed ahead, in the background, a window at a time.
//
// Versions: a name resolves to the Node of the file's current version. Lookup and Open first
// confirm that version with the server (a probe, single-flight per file, with no lock held
// while it runs, RangeSource::Reprobe: retried by the source while it fails in a way that may
// pass) when the last confirmation is older than `revalidate_after` by the scheduler's clock,
// and readers report responses from another version. A confirmation that still fails keeps
// the last confirmed version: stat and open go on with it, and the next lookup asks again. When the
// remote has changed, the new version gets a new Node, the old one's cached blocks are dropped, the
// change is logged once, and the version listener hears of it (so the kernel forgets the name).
// Handles open on the old version keep it, and fail reads that cached bytes cannot serve. A file
// that disappears from a listing keeps its open handles, and they keep reading what they pinned.
//
// Extended attributes (user.rangefs.*) tell where a file comes from, which version a Node
// stands for and what the file has cost; they are answered from memory, without a request.
//
// Thread-safety: all methods may be called concurrently. The RangeSource, the DirectoryLister
// and the Scheduler must outlive the Filesystem, and the Filesystem every FileReader it opened.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rangefs/block_cache.h"
#include "rangefs/block_fetcher.h"
#include "rangefs/block_store.h"
#include "rangefs/directory_listing.h"
#include "rangefs/file_reader.h"
#include "rangefs/file_version.h"
#include "rangefs/metrics.h"
#include "rangefs/mounted_directory.h"
#include "rangefs/mounted_file.h"
#include "rangefs/prefetcher.h"
#include "rangefs/range_source.h"
#include "rangefs/read_options.h"
#include "rangefs/remote_file.h"
#include "rangefs/scheduler.h"
#include "rangefs/status.h"
#include "rangefs/task_pool.h"

namespace rangefs {

// A file probed before it was added: `name` is its path in the mount ("a/b/f.iso" puts it in
// folders a and a/b).
struct NamedFile {
  std::string name;
  RemoteFileInfo info;
};

// What an inode stands for: the root directory, another directory, or one version of one
// file. A value, cheap to copy and compare; holding one keeps its file or directory (not its
// version) alive.
struct Node {
  std::shared_ptr<MountedFile> file;            // a file's version
  std::shared_ptr<MountedDirectory> directory;  // a directory other than the root
  uint64_t generation = 0;                      // of the file's version
  // Neither: the root.
  bool is_root() const { return !file && !directory; }
  friend bool operator==(const Node&, const Node&) = default;
};

struct NodeHash {
  size_t operator()(const Node& node) const {
    return std::hash<const void*>{}(node.file ? static_cast<const void*>(node.file.get())
                                              : static_cast<const void*>(node.directory.get())) ^
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
  // False for a file whose size only a probe will tell: `attributes` has its node and kind,
  // and a lookup gives the rest.
  bool attributes_known = true;
};

// A directory as opendir pins it: its children when it was opened, so that a listing read in
// several parts stays one listing however the remote changes meanwhile.
struct OpenedDirectory {
  Node node;
  Node parent;
  DirectorySnapshotPtr children;
  // "." and ".." come first.
  size_t size() const { return children->children().size() + 2; }
};

// How directories behave; the defaults suit a mount without remote directories.
struct DirectoryOptions {
  DirectoryLister* lister = nullptr;  // must outlive the Filesystem; null: no remote directories
  // How long a listing is trusted.
  std::chrono::milliseconds ttl{60000};
  // How long after a failed refresh the last good listing is served before trying again.
  std::chrono::milliseconds retry_failed_after{10000};
  // Threads (and so connections) for probing and listing ahead; 0: none.
  size_t ahead_workers = 0;
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
  // Called with a file's directory and name after the remote replaced its version.
  using VersionListener = std::function<void(const Node& parent, const std::string& name)>;

  // `mount_time` stands in for the mtime of the directory and of files without Last-Modified.
  // The files were probed just before; `revalidate_after` is how old (by `clock`) a
  // confirmation of their version may be when they are looked up or opened (zero: always
  // probe). `metrics`, when given, counts reads, handles and version changes, and gives the
  // extended attributes their traffic counters; it must outlive the Filesystem. `disk_cache`,
  // when given, is the second tier of blocks (--cache-dir) and must outlive it too.
  Filesystem(RangeSource& source, const Scheduler& clock, std::vector<NamedFile> files,
             std::time_t mount_time, const ReadOptions& read_options,
             std::chrono::milliseconds revalidate_after, Metrics* metrics = nullptr,
             const DirectoryOptions& directories = {}, BlockStore* disk_cache = nullptr);
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Set before serving requests.
  void SetVersionListener(VersionListener listener) { listener_ = std::move(listener); }
  // The disk cache, when it is opened after the constructor (in the daemon, after its fork):
  // as the constructor's `disk_cache`. Set before serving requests.
  void SetDiskCache(BlockStore* disk_cache) {
    fetcher_.SetStore(disk_cache);
    if (disk_cache) cache_.SetUseReportInterval(kDiskUseReportInterval);
  }
  // A block read from memory is reported to the disk cache as used at most this often, so
  // that a block hot in memory keeps its place in the disk cache's LRU.
  static constexpr std::chrono::minutes kDiskUseReportInterval{1};
  // Where the `addresses` attribute of a file comes from: one line per address of the file at
  // a URL ("URL up"), empty for a file with one address. Set before serving requests.
  using AddressReport = std::function<std::vector<std::string>(const std::string& url)>;
  void SetAddressReport(AddressReport report) { address_report_ = std::move(report); }

  // Adds a file, probed just before (as the constructor's files were), making the folders of
  // its path. kInvalidArgument when the path is taken, is not made of plain names, or crosses
  // a file or a remote directory.
  Status AddFile(NamedFile file);
  // Adds a file known only by its URL (a URL file's line): probed when first looked up.
  Status AddUnprobedFile(std::string_view path, std::string url);
  // Adds the remote directory listed at `url`, with its listing when it was fetched already.
  // An empty path makes it the root, which must still be empty.
  Status AddDirectory(std::string_view path, std::string url, std::optional<Listing> listing);

  static Node Root() { return {}; }

  // The attributes of `name` in the directory `parent`: of a file's current version, confirmed
  // with the server if stale (or probed for the first time when its size is unknown).
  Result<Attributes> Lookup(const Node& parent, std::string_view name);
  // The attributes of the version (or directory) this node stands for. kStaleHandle for a
  // version nothing uses any more.
  Result<Attributes> GetAttributes(const Node& node) const;
  // Pins the children of a directory, listing it first if it is remote and not fresh.
  Result<OpenedDirectory> OpenDirectory(const Node& node);
  // The entry at `index` < directory.size(): ".", "..", then the children in listing order.
  DirectoryEntry EntryAt(const OpenedDirectory& directory, size_t index);
  // Every entry of a directory (OpenDirectory and EntryAt in one).
  Result<std::vector<DirectoryEntry>> ReadDirectory(const Node& node);
  // Opens a file for reading; the reader pins the file's version. kStaleHandle when `node` is
  // not, or after revalidation no longer is, the current version: the caller looks the name up
  // again.
  Result<OpenedFile> Open(const Node& node);

  // The extended attributes of a node, in a fixed order; none for the directory. For a file's
  // version: user.rangefs.url (the URL given, credentials redacted), .etag and .last_modified
  // (of that version, each only when the server sent one), .cached_bytes (of this version in
  // the block cache), .disk_cached_bytes (in the disk cache, when there is one), and, with metrics,
  // .requests, .bytes_fetched and .retries (of the file's URL, every version and probe included).
  // kStaleHandle for a version nothing uses any more.
  Result<std::vector<ExtendedAttribute>> ExtendedAttributes(const Node& node) const;
  // One of them; kNoSuchAttribute for a name the node does not have.
  Result<std::string> ExtendedAttributeValue(const Node& node, std::string_view name) const;

  // Makes every read that waits for the network give up at once: the session is ending
  // (SIGTERM, unmount), and a reader must not hold it open until its retries run out.
  void RequestStop() { stop_.request_stop(); }
  // Stops the probes and listings ahead, waiting for those running: before the sources they
  // use go away. Nothing is fetched ahead afterwards.
  void StopBackgroundWork();

  BlockCacheStats cache_stats() const { return cache_.stats(); }

 private:
  // The directory a node stands for; null for a file.
  std::shared_ptr<MountedDirectory> DirectoryOf(const Node& node) const;
  Node NodeOf(const std::shared_ptr<MountedDirectory>& directory) const;
  // The folder at `path` ("" for the root), made (as fixed directories) where missing.
  Result<std::shared_ptr<MountedDirectory>> FolderAt(std::string_view path);
  // The children of `directory`, listed first when stale; logs what a listing found.
  Result<DirectorySnapshotPtr> ChildrenOf(const std::shared_ptr<MountedDirectory>& directory);
  // The object for a child of `directory`, made on first use.
  std::shared_ptr<MountedFile> FileOf(const std::shared_ptr<MountedDirectory>& directory,
                                      DirectoryChild& child);
  std::shared_ptr<MountedDirectory> SubdirectoryOf(
      const std::shared_ptr<MountedDirectory>& directory, DirectoryChild& child);
  std::shared_ptr<MountedFile> MakeFile(std::string name, RemoteFileInfo info, bool probed,
                                        bool size_known,
                                        const std::shared_ptr<MountedDirectory>& parent);
  // Probes (or lists) in the background the children after `index` of a directory being
  // walked (see the class comment).
  void ProbeAhead(const std::shared_ptr<MountedDirectory>& directory,
                  const DirectorySnapshotPtr& children, size_t index);
  // Probes in the background the files from `from` on whose size the listing did not state,
  // a window of them (each claimed once).
  void ProbeFrom(const std::shared_ptr<MountedDirectory>& directory,
                 const DirectorySnapshotPtr& children, size_t from);
  void ListAhead(const std::shared_ptr<MountedDirectory>& directory,
                 const DirectorySnapshotPtr& children, size_t index);
  // How many entries past the one looked up are probed ahead.
  size_t ProbeAheadWindow() const;
  // The version `node` stands for: kNotFound for a directory, kStaleHandle for a version
  // nothing uses any more.
  Result<FileVersionPtr> VersionOf(const Node& node) const;
  Attributes AttributesOf(const std::shared_ptr<MountedFile>& file,
                          const FileVersion& version) const;
  Attributes DirectoryAttributes(const Node& node) const;
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
  const DirectoryOptions directories_;
  VersionListener listener_;
  AddressReport address_report_;
  std::stop_source stop_;

  mutable std::shared_mutex root_mu_;
  std::shared_ptr<MountedDirectory> root_;  // Guarded by root_mu_ (replaced only while adding)
  // The pool of the probes and listings ahead, started on first use; null once stopped (and
  // when there are no workers).
  TaskPool* AheadPool();
  std::mutex ahead_mu_;
  bool ahead_stopped_ = false;  // Guarded by ahead_mu_
  // Declared last, so it stops (joining its workers) first.
  std::unique_ptr<TaskPool> ahead_;  // Guarded by ahead_mu_ (the pointer; set once)
};

}  // namespace rangefs
