#include "rangefs/mounted_directory.h"

#include <algorithm>
#include <utility>

namespace rangefs {
namespace {

std::shared_ptr<DirectoryChild> NewChild(ListedEntry entry) {
  auto child = std::make_shared<DirectoryChild>();
  child->entry = std::move(entry);
  return child;
}

}  // namespace

DirectorySnapshot::DirectorySnapshot(std::vector<std::shared_ptr<DirectoryChild>> children)
    : children_(std::move(children)) {
  by_name_.reserve(children_.size());
  for (size_t i = 0; i < children_.size(); ++i) {
    by_name_.emplace(children_[i]->entry.name, i);
  }
}

std::shared_ptr<DirectoryChild> DirectorySnapshot::Find(std::string_view name) const {
  const std::optional<size_t> index = IndexOf(name);
  return index ? children_[*index] : nullptr;
}

std::optional<size_t> DirectorySnapshot::IndexOf(std::string_view name) const {
  const auto found = by_name_.find(name);
  if (found == by_name_.end()) return std::nullopt;
  return found->second;
}

bool DirectorySnapshot::Append(std::shared_ptr<DirectoryChild> child) {
  if (!by_name_.emplace(child->entry.name, children_.size()).second) return false;
  children_.push_back(std::move(child));
  return true;
}

MountedDirectory::MountedDirectory(std::string name, std::weak_ptr<MountedDirectory> parent)
    : name_(std::move(name)),
      parent_(std::move(parent)),
      snapshot_(std::make_shared<const DirectorySnapshot>()),
      building_(std::make_shared<DirectorySnapshot>()),
      listed_(true) {}

MountedDirectory::MountedDirectory(std::string name, std::weak_ptr<MountedDirectory> parent,
                                   std::string url, std::optional<Listing> initial,
                                   Clock::time_point listed_at)
    : name_(std::move(name)),
      parent_(std::move(parent)),
      url_(std::move(url)),
      snapshot_(std::make_shared<const DirectorySnapshot>()) {
  if (initial) {
    Refresh ignored;
    snapshot_ = MergeLocked(*snapshot_, std::move(*initial), ignored);
    listed_ = true;
    listed_at_ = listed_at;
  }
}

Status MountedDirectory::Add(ListedEntry entry, std::shared_ptr<MountedFile> file,
                             std::shared_ptr<MountedDirectory> directory) {
  if (remote()) return Status(ErrorCode::kInvalidArgument, "a remote directory is listed");
  auto child = std::make_shared<DirectoryChild>(DirectoryChild{
      .entry = std::move(entry), .file = std::move(file), .directory = std::move(directory)});
  std::lock_guard lock(mu_);
  if (!building_->Append(child)) {
    return Status(ErrorCode::kInvalidArgument, "two entries named " + child->entry.name);
  }
  unpublished_ = true;
  return Status();
}

DirectorySnapshotPtr MountedDirectory::KnownChildren() const {
  std::lock_guard lock(mu_);
  if (unpublished_) {
    // Published lazily: a copy per burst of additions.
    snapshot_ = std::make_shared<const DirectorySnapshot>(*building_);
    unpublished_ = false;
  }
  return snapshot_;
}

bool MountedDirectory::listed() const {
  std::lock_guard lock(mu_);
  return listed_;
}

Result<DirectorySnapshotPtr> MountedDirectory::Children(Clock::duration ttl,
                                                        Clock::duration retry_after,
                                                        const Scheduler& clock,
                                                        const Lister& lister, Refresh* refresh) {
  if (!remote()) return KnownChildren();
  std::promise<void> finished;
  {
    std::unique_lock lock(mu_);
    while (true) {
      const Clock::time_point now = clock.Now();
      const bool fresh = listed_ && now - listed_at_ < ttl;
      const bool resting = listed_ && failed_at_ && now - *failed_at_ < retry_after;
      if (fresh || resting) return snapshot_;
      if (!listing_in_flight_.valid()) break;
      // Someone else is listing: their answer, good or bad, answers this call too.
      const std::shared_future<void> in_flight = listing_in_flight_;
      lock.unlock();
      in_flight.wait();
      lock.lock();
      if (listed_) return snapshot_;
      if (failed_at_) return last_failure_;
    }
    listing_in_flight_ = finished.get_future().share();
  }

  // Whatever happens below, the waiters are let go.
  struct Release {
    MountedDirectory& directory;
    std::promise<void>& finished;
    ~Release() {
      {
        std::lock_guard lock(directory.mu_);
        directory.listing_in_flight_ = {};
      }
      finished.set_value();
    }
  };
  const Release release{*this, finished};
  const Clock::time_point started = clock.Now();
  Result<Listing> listing = lister(url_);
  Refresh local;
  Refresh& what = refresh ? *refresh : local;
  what.fetched = true;
  std::lock_guard lock(mu_);
  if (!listing.ok()) {
    what.status = listing.status();
    failed_at_ = started;
    last_failure_ = listing.status();
    if (!listed_) return listing.status();
    return snapshot_;
  }
  what.format = listing->format;
  snapshot_ = MergeLocked(*snapshot_, std::move(listing).value(), what);
  listed_ = true;
  listed_at_ = started;
  failed_at_.reset();
  return snapshot_;
}

DirectorySnapshotPtr MountedDirectory::MergeLocked(const DirectorySnapshot& old, Listing listing,
                                                   Refresh& refresh) {
  std::vector<std::shared_ptr<DirectoryChild>> children;
  children.reserve(listing.entries.size());
  for (ListedEntry& entry : listing.entries) {
    std::shared_ptr<DirectoryChild> before = old.Find(entry.name);
    if (!before || before->entry.is_directory != entry.is_directory) {
      if (before) refresh.stale_names.push_back(entry.name);
      ++refresh.added;
      children.push_back(NewChild(std::move(entry)));
      continue;
    }
    if (before->entry == entry) {
      children.push_back(std::move(before));
      continue;
    }
    // Described differently (a new size or date, another URL): a new child. A directory at
    // the same URL stays the same directory; a file the kernel may already know by its probed
    // version stays the same file, to be probed again, so the change is found the usual way.
    refresh.stale_names.push_back(entry.name);
    auto child = NewChild(std::move(entry));
    if (before->directory && before->entry.url == child->entry.url) {
      child->directory = before->directory;
    }
    // (MountedFile's lock is a leaf: it never calls out while holding it.)
    if (before->file && before->file->probed() && before->entry.url == child->entry.url) {
      before->file->Expire();
      child->file = before->file;
    }
    children.push_back(std::move(child));
  }
  auto next = std::make_shared<const DirectorySnapshot>(std::move(children));
  for (const std::shared_ptr<DirectoryChild>& child : old.children()) {
    if (!next->Find(child->entry.name)) {
      ++refresh.removed;
      refresh.stale_names.push_back(child->entry.name);
    }
  }
  return next;
}

std::pair<size_t, size_t> MountedDirectory::ClaimAhead(Ahead kind, size_t index, size_t window) {
  return ClaimFrom(kind, index + 1, window);
}

std::pair<size_t, size_t> MountedDirectory::ClaimFrom(Ahead kind, size_t from, size_t window) {
  std::atomic<size_t>& claimed_to = kind == Ahead::kProbe ? probed_ahead_to_ : listed_ahead_to_;
  const size_t last = from + window;
  size_t first = claimed_to.load();
  do {
    if (first >= last) return {last, last};
  } while (!claimed_to.compare_exchange_weak(first, last));
  return {std::max(first, from), last};
}

std::shared_ptr<MountedFile> MountedDirectory::FileOf(
    DirectoryChild& child, const std::function<std::shared_ptr<MountedFile>()>& make) {
  std::lock_guard lock(mu_);
  if (!child.file) child.file = make();
  return child.file;
}

std::shared_ptr<MountedDirectory> MountedDirectory::DirectoryOf(
    DirectoryChild& child, const std::function<std::shared_ptr<MountedDirectory>()>& make) {
  std::lock_guard lock(mu_);
  if (!child.directory) child.directory = make();
  return child.directory;
}

}  // namespace rangefs
