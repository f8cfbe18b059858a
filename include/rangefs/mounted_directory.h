// MountedDirectory: one directory of the mount's tree. A fixed directory holds what the
// command line and the URL file put there (the root of a mount of several operands, a URL
// file's folders); a remote directory holds what its listing says, fetched on first use and
// again once it is older than the directory TTL.
//
// Children are published as immutable snapshots, so a reader (a readdir stream, a lookup) works
// on a consistent listing while a refresh builds the next one; a child that a refresh finds
// unchanged is carried over with the file or directory object made for it. Listing is
// single-flight: callers that need a fresh listing share one fetch, waiting with no lock held.
// A failed refresh keeps the last good listing, and the next try waits a while.
//
// Memory: a child nobody has looked up costs its ListedEntry (name, URL, size, mtime) and its
// slots in the snapshot; the MountedFile or MountedDirectory for it is made on first use.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rangefs/directory_listing.h"
#include "rangefs/mounted_file.h"
#include "rangefs/scheduler.h"
#include "rangefs/status.h"

namespace rangefs {

class MountedDirectory;

// One name in a directory. `entry` never changes; the objects made for it are set once, under
// the directory's lock (see MountedDirectory::FileOf and DirectoryOf).
struct DirectoryChild {
  ListedEntry entry;
  std::shared_ptr<MountedFile> file;            // Guarded by the directory's lock
  std::shared_ptr<MountedDirectory> directory;  // Guarded by the directory's lock
};

// The children of a directory at one moment, in listing order.
class DirectorySnapshot {
 public:
  DirectorySnapshot() = default;
  explicit DirectorySnapshot(std::vector<std::shared_ptr<DirectoryChild>> children);

  const std::vector<std::shared_ptr<DirectoryChild>>& children() const { return children_; }
  // The child named `name`, or null.
  std::shared_ptr<DirectoryChild> Find(std::string_view name) const;
  // Where `name` is in children(), or nullopt.
  std::optional<size_t> IndexOf(std::string_view name) const;
  // Appends `child` unless its name is taken (false). Only for a snapshot not yet shared.
  bool Append(std::shared_ptr<DirectoryChild> child);

 private:
  std::vector<std::shared_ptr<DirectoryChild>> children_;
  std::unordered_map<std::string_view, size_t> by_name_;  // views into children_'s names
};

using DirectorySnapshotPtr = std::shared_ptr<const DirectorySnapshot>;

class MountedDirectory final {
 public:
  using Clock = Scheduler::Clock;
  using Lister = std::function<Result<Listing>(const std::string& url)>;

  // A fixed directory.
  MountedDirectory(std::string name, std::weak_ptr<MountedDirectory> parent);
  // A remote directory listed from `url`; `initial` when it was listed at `listed_at` already.
  MountedDirectory(std::string name, std::weak_ptr<MountedDirectory> parent, std::string url,
                   std::optional<Listing> initial, Clock::time_point listed_at);

  const std::string& name() const { return name_; }
  // The URL that lists it; empty for a fixed directory.
  const std::string& url() const { return url_; }
  bool remote() const { return !url_.empty(); }
  // Null for the root, and once the parent is gone.
  std::shared_ptr<MountedDirectory> parent() const { return parent_.lock(); }

  // Fixed directories: adds a child, with the object made for it when there is one.
  // kInvalidArgument when the name is taken, and for a remote directory.
  Status Add(ListedEntry entry, std::shared_ptr<MountedFile> file = nullptr,
             std::shared_ptr<MountedDirectory> directory = nullptr);

  // What a call to Children learned, for the caller's log.
  struct Refresh {
    bool fetched = false;  // this call ran the listing
    Status status;         // why the fetch failed (the last good listing was kept)
    std::string format;
    size_t added = 0;
    size_t removed = 0;
    // The names the kernel may still hold that now mean something else or nothing: removed,
    // or described differently.
    std::vector<std::string> stale_names;
  };
  // The children. A remote directory is listed first when it never was, or its listing is
  // older than `ttl` (and the last failure is older than `retry_after`). Fails only while the
  // directory has never been listed.
  Result<DirectorySnapshotPtr> Children(Clock::duration ttl, Clock::duration retry_after,
                                        const Scheduler& clock, const Lister& lister,
                                        Refresh* refresh = nullptr);
  // The children known now, without listing: empty for a remote directory never listed.
  DirectorySnapshotPtr KnownChildren() const;
  bool listed() const;

  // The object for a child of this directory, made by `make` on first use.
  std::shared_ptr<MountedFile> FileOf(DirectoryChild& child,
                                      const std::function<std::shared_ptr<MountedFile>()>& make);
  std::shared_ptr<MountedDirectory> DirectoryOf(
      DirectoryChild& child, const std::function<std::shared_ptr<MountedDirectory>()>& make);

  // Set by a readdir: a tool that read the listing and then looks at its entries one by one
  // (ls -l, du, find) walks it, so the entries after the one it looks at are worth probing or
  // listing ahead.
  void NoteRead() { read_.store(true, std::memory_order_relaxed); }
  bool was_read() const { return read_.load(std::memory_order_relaxed); }
  // What to fetch ahead after a look at the child at `index`: the children in [first, last)
  // not claimed before, up to `window` past `index`. Each child is claimed once (per kind), so
  // a walk queues each entry once.
  enum class Ahead { kProbe, kList };
  std::pair<size_t, size_t> ClaimAhead(Ahead kind, size_t index, size_t window);
  // The same from the child at `from` on (ClaimAhead(kind, i, w) is ClaimFrom(kind, i + 1, w)).
  std::pair<size_t, size_t> ClaimFrom(Ahead kind, size_t from, size_t window);
  // Whether its first children were claimed for probing already.
  bool probed_ahead_from_start() const { return probed_ahead_to_.load() > 0; }

 private:
  // The next snapshot: `listing`'s entries, carrying over the children of `old` it leaves as
  // they were. REQUIRES: mu_ held.
  DirectorySnapshotPtr MergeLocked(const DirectorySnapshot& old, Listing listing, Refresh& refresh);

  const std::string name_;
  const std::weak_ptr<MountedDirectory> parent_;
  const std::string url_;
  std::atomic<bool> read_{false};
  std::atomic<size_t> probed_ahead_to_{0};  // children before it were claimed for probing
  std::atomic<size_t> listed_ahead_to_{0};  // children before it were claimed for listing

  mutable std::mutex mu_;
  // Mutable: a const reader publishes what was added (KnownChildren).
  mutable DirectorySnapshotPtr snapshot_;  // Guarded by mu_
  // A fixed directory's children as added; published to snapshot_ (a copy) when read after an
  // addition, so that adding many children costs one copy, not one each.
  std::shared_ptr<DirectorySnapshot> building_;  // Guarded by mu_
  mutable bool unpublished_ = false;             // Guarded by mu_
  bool listed_ = false;                          // Guarded by mu_
  Clock::time_point listed_at_;                  // Guarded by mu_
  std::optional<Clock::time_point> failed_at_;   // Guarded by mu_
  Status last_failure_;                          // Guarded by mu_
  std::shared_future<void> listing_in_flight_;   // Guarded by mu_
};

}  // namespace rangefs
