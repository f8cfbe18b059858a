// Filesystem: the work a walk of the tree gets ahead of time (see "The tree" in
// docs/ARCHITECTURE.md): probes of the next entries of a directory being stat'ed, and of the
// next sibling directory's; listings of the next sibling directories of one being opened. All
// of it runs on a pool started on first use and stopped before what it uses goes away.
#include <algorithm>
#include <mutex>
#include <optional>

#include "rangefs/filesystem.h"

namespace rangefs {
namespace {

// How many pools' worth of entries past the one looked up are probed ahead.
constexpr size_t kProbeAheadPools = 4;

}  // namespace

void Filesystem::StopBackgroundWork() {
  TaskPool* pool = nullptr;
  {
    std::lock_guard lock(ahead_mu_);
    ahead_stopped_ = true;
    pool = ahead_.get();
  }
  // Outside the lock: its running tasks may ask for the pool (and get none).
  if (pool) pool->Stop();
}

TaskPool* Filesystem::AheadPool() {
  if (directories_.ahead_workers == 0) return nullptr;
  std::lock_guard lock(ahead_mu_);
  if (ahead_stopped_) return nullptr;
  // Started on first use, which comes after the daemon's fork: threads do not survive it.
  if (!ahead_) ahead_ = std::make_unique<TaskPool>(directories_.ahead_workers);
  return ahead_.get();
}

void Filesystem::ProbeAhead(const std::shared_ptr<MountedDirectory>& directory,
                            const DirectorySnapshotPtr& children, size_t index) {
  if (!directory->was_read()) return;
  TaskPool* const pool = AheadPool();
  if (!pool) return;
  ProbeFrom(directory, children, index + 1);
  // A walk that stats every entry of a directory it reached from its parent (ls -lR, du) does
  // the same in the next subdirectory: start there too, so the round trips of one directory
  // overlap the stats of the one before.
  const std::shared_ptr<MountedDirectory> parent = directory->parent();
  if (!parent || !parent->was_read()) return;
  const DirectorySnapshotPtr siblings = parent->KnownChildren();
  const std::optional<size_t> at = siblings->IndexOf(directory->name());
  if (!at) return;
  for (size_t i = *at + 1; i < siblings->children().size(); ++i) {
    DirectoryChild& sibling = *siblings->children()[i];
    if (!sibling.entry.is_directory) continue;
    const std::shared_ptr<MountedDirectory> next = SubdirectoryOf(parent, sibling);
    if (next->probed_ahead_from_start()) return;
    pool->Post([this, next] {
      Result<DirectorySnapshotPtr> listed = ChildrenOf(next);
      if (listed.ok()) ProbeFrom(next, *listed, 0);
    });
    return;
  }
}

void Filesystem::ProbeFrom(const std::shared_ptr<MountedDirectory>& directory,
                           const DirectorySnapshotPtr& children, size_t from) {
  const auto [first, last] =
      directory->ClaimFrom(MountedDirectory::Ahead::kProbe, from, ProbeAheadWindow());
  const auto& all = children->children();
  for (size_t i = first; i < std::min(last, all.size()); ++i) {
    const std::shared_ptr<DirectoryChild>& child = all[i];
    if (child->entry.is_directory || child->entry.size) continue;
    std::shared_ptr<MountedFile> file = FileOf(directory, *child);
    TaskPool* const pool = AheadPool();
    if (!pool) return;
    pool->Post([this, file] {
      if (!file->probed()) Revalidate(*file, clock_.Now(), nullptr);
    });
  }
}

void Filesystem::ListAhead(const std::shared_ptr<MountedDirectory>& directory,
                           const DirectorySnapshotPtr& children, size_t index) {
  if (!directory->was_read()) return;
  TaskPool* const pool = AheadPool();
  if (!pool) return;
  const auto [first, last] =
      directory->ClaimAhead(MountedDirectory::Ahead::kList, index, directories_.ahead_workers);
  const auto& all = children->children();
  for (size_t i = first; i < std::min(last, all.size()); ++i) {
    const std::shared_ptr<DirectoryChild>& child = all[i];
    if (!child->entry.is_directory) continue;
    std::shared_ptr<MountedDirectory> subdirectory = SubdirectoryOf(directory, *child);
    if (!subdirectory->remote() || subdirectory->listed()) continue;
    pool->Post([this, subdirectory] { (void)ChildrenOf(subdirectory); });
  }
}

size_t Filesystem::ProbeAheadWindow() const {
  // Probes are small: a window of a few pools' worth keeps every worker busy while the walker
  // catches up, and each entry is claimed once, so none is probed twice.
  return kProbeAheadPools * directories_.ahead_workers;
}

}  // namespace rangefs
