#include "rangefs/filesystem.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <mutex>
#include <utility>

#include "rangefs/imf_date.h"
#include "rangefs/redact.h"

namespace rangefs {
namespace {

// The user namespace: the one unprivileged readers may list, and that getfattr -d shows
// without a pattern.
constexpr std::string_view kAttributePrefix = "user.rangefs.";

ExtendedAttribute Attribute(std::string_view suffix, std::string value) {
  return {std::string(kAttributePrefix) + std::string(suffix), std::move(value)};
}

// Why a file that was to be probed still is not.
Status WhyNotProbed(const MountedFile& file) {
  Status failure = file.first_probe_failure();
  if (!failure.ok()) return failure;
  return Status(ErrorCode::kTransport, file.name() + ": not probed yet");
}

}  // namespace

Filesystem::Filesystem(RangeSource& source, const Scheduler& clock, std::vector<NamedFile> files,
                       std::time_t mount_time, const ReadOptions& read_options,
                       std::chrono::milliseconds revalidate_after, Metrics* metrics,
                       const DirectoryOptions& directories, BlockStore* disk_cache)
    : source_(source),
      clock_(clock),
      cache_(read_options.cache_size),
      fetcher_(cache_, source, read_options.block_size, disk_cache),
      prefetcher_(fetcher_, read_options.connections, read_options.max_request_bytes,
                  read_options.max_ranges),
      mount_time_(mount_time),
      revalidate_after_(revalidate_after),
      read_options_(read_options),
      readahead_(EffectiveReadahead(read_options)),
      metrics_(metrics),
      directories_(directories),
      root_(std::make_shared<MountedDirectory>("", std::weak_ptr<MountedDirectory>())) {
  if (disk_cache) cache_.SetUseReportInterval(kDiskUseReportInterval);
  for (NamedFile& file : files) {
    const Status added = AddFile(std::move(file));
    assert(added.ok() && "the command line gives each file its own name");
    (void)added;
  }
}

Filesystem::~Filesystem() {
  // Its tasks use the members below.
  StopBackgroundWork();
}

std::shared_ptr<MountedFile> Filesystem::MakeFile(std::string name, RemoteFileInfo info,
                                                  bool probed, bool size_known,
                                                  const std::shared_ptr<MountedDirectory>& parent) {
  auto on_change = [this](MountedFile& changed, const FileVersion& version,
                          const Status& evidence) {
    spdlog::info("{}: a response came from another version: {}", changed.name(),
                 evidence.message());
    Revalidate(changed, clock_.Now(), &version);
  };
  return std::make_shared<MountedFile>(
      std::move(name), std::move(info),
      probed ? std::optional<MountedFile::Clock::time_point>(clock_.Now()) : std::nullopt,
      read_options_.block_size, readahead_, std::move(on_change), size_known, parent);
}

std::shared_ptr<MountedDirectory> Filesystem::DirectoryOf(const Node& node) const {
  if (node.directory) return node.directory;
  if (node.file) return nullptr;
  std::shared_lock lock(root_mu_);
  return root_;
}

Node Filesystem::NodeOf(const std::shared_ptr<MountedDirectory>& directory) const {
  std::shared_lock lock(root_mu_);
  return directory == root_ ? Root() : Node{.file = nullptr, .directory = directory};
}

Result<DirectorySnapshotPtr> Filesystem::ChildrenOf(
    const std::shared_ptr<MountedDirectory>& shared) {
  MountedDirectory& directory = *shared;
  if (!directory.remote()) return directory.KnownChildren();
  if (!directories_.lister) return directory.KnownChildren();
  DirectoryLister& lister = *directories_.lister;
  MountedDirectory::Refresh refresh;
  Result<DirectorySnapshotPtr> children = directory.Children(
      directories_.ttl, directories_.retry_failed_after, clock_,
      [&lister](const std::string& url) { return lister.List(url); }, &refresh);
  if (refresh.fetched) {
    if (!refresh.status.ok()) {
      spdlog::warn("{}: listing failed{}: {}", RedactUrl(directory.url()),
                   children.ok() ? "; the last good listing stays" : "", refresh.status.ToString());
    } else {
      spdlog::debug("{}: listed as {}: {} entries ({} new, {} gone)", RedactUrl(directory.url()),
                    refresh.format, children.ok() ? (*children)->children().size() : 0,
                    refresh.added, refresh.removed);
      // The kernel forgets what the names it cached stood for, so that a removed file is
      // gone at once rather than after the entry timeout.
      if (listener_ && !refresh.stale_names.empty()) {
        const Node node = NodeOf(shared);
        for (const std::string& name : refresh.stale_names) listener_(node, name);
      }
    }
  }
  return children;
}

std::shared_ptr<MountedFile> Filesystem::FileOf(const std::shared_ptr<MountedDirectory>& directory,
                                                DirectoryChild& child) {
  return directory->FileOf(child, [&] {
    const ListedEntry& entry = child.entry;
    RemoteFileInfo info{.url = entry.url,
                        .final_url = entry.url,
                        .size = entry.size.value_or(0),
                        .etag = {},
                        .last_modified = entry.mtime};
    return MakeFile(entry.name, std::move(info), false, entry.size.has_value(), directory);
  });
}

std::shared_ptr<MountedDirectory> Filesystem::SubdirectoryOf(
    const std::shared_ptr<MountedDirectory>& directory, DirectoryChild& child) {
  return directory->DirectoryOf(child, [&] {
    return std::make_shared<MountedDirectory>(child.entry.name, directory, child.entry.url,
                                              std::nullopt, clock_.Now());
  });
}

Result<FileVersionPtr> Filesystem::VersionOf(const Node& node) const {
  if (!node.file) return Status(ErrorCode::kNotFound, "not a file");
  FileVersionPtr version = node.file->Find(node.generation);
  if (!version) return Status(ErrorCode::kStaleHandle, "a replaced version of the file");
  return version;
}

Attributes Filesystem::AttributesOf(const std::shared_ptr<MountedFile>& file,
                                    const FileVersion& version) const {
  return Attributes{.node = {.file = file, .directory = nullptr, .generation = version.generation},
                    .is_directory = false,
                    .size = version.info.size,
                    .mtime = version.info.last_modified.value_or(mount_time_)};
}

Attributes Filesystem::DirectoryAttributes(const Node& node) const {
  return Attributes{.node = node, .is_directory = true, .size = 0, .mtime = mount_time_};
}

void Filesystem::Revalidate(MountedFile& file, MountedFile::Clock::time_point asked_at,
                            const FileVersion* suspect) {
  // The file is served already: a failure that may pass is retried (within --timeout) rather
  // than failing the lookup or open that needs the answer, or leaving a change unseen.
  const auto probe = [this](const RemoteFileInfo& current) { return source_.Reprobe(current.url); };
  const std::optional<MountedFile::Probed> probed =
      file.Revalidate(asked_at, suspect, revalidate_after_, clock_, probe);
  if (!probed) return;  // not needed, or another caller's probe answered
  if (!probed->status.ok()) {
    if (probed->first) {
      // The caller reports it (ENOENT, EIO); a listing may name files long gone.
      spdlog::info("{}: probe failed: {}", RedactUrl(probed->before->info.url),
                   probed->status.ToString());
      return;
    }
    // Retried already, and still failing: the version stays (it was good when last confirmed,
    // and reads carry its validators, so a changed remote still cannot mix versions: they fail
    // then, and a reader's evidence makes a new probe), and the next lookup or open tries
    // again. Failing the stat or open instead would make a server's bad minute the user's.
    spdlog::warn(
        "{}: could not confirm the version with the server; serving the last confirmed "
        "one: {}",
        file.name(), probed->status.ToString());
    return;
  }
  if (!probed->replaced) {
    if (suspect) {
      spdlog::warn(
          "{}: a response looked like another version, but the server still "
          "describes this one ({})",
          file.name(), DescribeVersion(probed->before->info));
    }
    return;
  }
  if (probed->first) {
    // Nothing was read from what the listing said; the kernel only heard its size.
    spdlog::info("{}: the listing said {} bytes; the server says {}", file.name(),
                 probed->replaced->info.size, file.current()->info.size);
  } else {
    if (metrics_) metrics_->CountVersionChange();
    const size_t dropped = cache_.Retire(*probed->replaced->key);
    spdlog::warn("{}: remote changed ({} -> {}); dropped {} cached blocks of the old version",
                 file.name(), DescribeVersion(probed->replaced->info),
                 DescribeVersion(file.current()->info), dropped);
  }
  if (!listener_) return;
  if (const std::shared_ptr<MountedDirectory> parent = file.parent()) {
    listener_(NodeOf(parent), file.name());
  }
}

void Filesystem::PrefetchForFirstOpen(const FileVersionPtr& version) {
  // Blocks someone already has or is loading are left out; what is left goes out as one
  // multi-range request, at demand priority: the opener is about to read it.
  std::vector<BlockFetcher::Run> runs;
  for (const BlockRunIndexes& planned : OpenPrefetchRuns(version->info.size, read_options_)) {
    fetcher_.ClaimMissing(version, planned.first_index, planned.last_index, runs);
  }
  if (!runs.empty()) fetcher_.FetchClaimedRuns(version, runs, FetchPriority::kDemand);
}

Result<Attributes> Filesystem::Lookup(const Node& parent, std::string_view name) {
  const std::shared_ptr<MountedDirectory> directory = DirectoryOf(parent);
  if (!directory) return Status(ErrorCode::kNotADirectory, "not a directory");
  Result<DirectorySnapshotPtr> children = ChildrenOf(directory);
  if (!children.ok()) return children.status();
  const std::optional<size_t> index = (*children)->IndexOf(name);
  if (!index) return Status(ErrorCode::kNotFound, "no such file: " + std::string(name));
  DirectoryChild& child = *(*children)->children()[*index];
  if (child.entry.is_directory) {
    const std::shared_ptr<MountedDirectory> subdirectory = SubdirectoryOf(directory, child);
    return DirectoryAttributes(NodeOf(subdirectory));
  }
  const std::shared_ptr<MountedFile> file = FileOf(directory, child);
  // A size the listing states exactly serves until the file is opened.
  if (!file->probed() && file->size_known()) return AttributesOf(file, *file->current());
  // Where the listing did not say, a walk keeps a window of the next entries probed.
  if (!child.entry.size) ProbeAhead(directory, *children, *index);
  Revalidate(*file, clock_.Now(), nullptr);
  if (!file->probed()) return WhyNotProbed(*file);
  return AttributesOf(file, *file->current());
}

Result<Attributes> Filesystem::GetAttributes(const Node& node) const {
  if (!node.file) return DirectoryAttributes(node);
  Result<FileVersionPtr> version = VersionOf(node);
  if (!version.ok()) return version.status();
  return AttributesOf(node.file, **version);
}

Result<OpenedDirectory> Filesystem::OpenDirectory(const Node& node) {
  const std::shared_ptr<MountedDirectory> directory = DirectoryOf(node);
  if (!directory) return Status(ErrorCode::kNotADirectory, "not a directory");
  const std::shared_ptr<MountedDirectory> parent = directory->parent();
  if (parent) {
    // A walk (find, ls -R) opens the subdirectories of a directory it read one after another:
    // list the ones after this one meanwhile, starting before this one's own listing.
    const DirectorySnapshotPtr siblings = parent->KnownChildren();
    if (const std::optional<size_t> index = siblings->IndexOf(directory->name())) {
      ListAhead(parent, siblings, *index);
    }
  }
  Result<DirectorySnapshotPtr> children = ChildrenOf(directory);
  if (!children.ok()) return children.status();
  directory->NoteRead();
  return OpenedDirectory{.node = node,
                         .parent = parent ? NodeOf(parent) : node,
                         .children = std::move(children).value()};
}

DirectoryEntry Filesystem::EntryAt(const OpenedDirectory& directory, size_t index) {
  if (index == 0) return {".", DirectoryAttributes(directory.node)};
  if (index == 1) return {"..", DirectoryAttributes(directory.parent)};
  DirectoryChild& child = *directory.children->children()[index - 2];
  const std::shared_ptr<MountedDirectory> owner = DirectoryOf(directory.node);
  if (child.entry.is_directory) {
    return {child.entry.name, DirectoryAttributes(NodeOf(SubdirectoryOf(owner, child)))};
  }
  const std::shared_ptr<MountedFile> file = FileOf(owner, child);
  DirectoryEntry entry{child.entry.name, AttributesOf(file, *file->current())};
  entry.attributes_known = file->size_known();
  return entry;
}

Result<std::vector<DirectoryEntry>> Filesystem::ReadDirectory(const Node& node) {
  Result<OpenedDirectory> directory = OpenDirectory(node);
  if (!directory.ok()) return directory.status();
  std::vector<DirectoryEntry> entries;
  entries.reserve(directory->size());
  for (size_t i = 0; i < directory->size(); ++i) entries.push_back(EntryAt(*directory, i));
  return entries;
}

Result<OpenedFile> Filesystem::Open(const Node& node) {
  if (!node.file) return Status(ErrorCode::kIsADirectory, "is a directory");
  MountedFile& file = *node.file;
  const Status stale(ErrorCode::kStaleHandle, "the remote file has a newer version");
  if (file.current()->generation != node.generation) return stale;
  Revalidate(file, clock_.Now(), nullptr);
  // Never read from what a listing said: only a probe gives the validators reads carry.
  if (!file.probed()) return WhyNotProbed(file);
  FileVersionPtr version = file.current();
  if (version->generation != node.generation) return stale;
  if (file.FirstOpenOf(version->generation)) PrefetchForFirstOpen(version);
  return OpenedFile{.reader = std::make_unique<FileReader>(
                        fetcher_, prefetcher_, file.readahead(), file, std::move(version),
                        stop_.get_token(), metrics_, read_options_.wait),
                    // Each node holds one version, so what the kernel cached stays valid.
                    .keep_cache = true};
}

Result<std::vector<ExtendedAttribute>> Filesystem::ExtendedAttributes(const Node& node) const {
  if (!node.file) return std::vector<ExtendedAttribute>();
  Result<FileVersionPtr> version = VersionOf(node);
  if (!version.ok()) return version.status();
  const RemoteFileInfo& info = (*version)->info;
  std::vector<ExtendedAttribute> attributes;
  attributes.push_back(Attribute("url", RedactUrl(info.url)));
  // Absent rather than empty when the server sent none: an empty value would read as a
  // validator that is the empty string.
  if (!info.etag.empty()) attributes.push_back(Attribute("etag", info.etag));
  if (info.last_modified) {
    attributes.push_back(Attribute("last_modified", FormatImfDate(*info.last_modified)));
  }
  attributes.push_back(
      Attribute("cached_bytes", std::to_string(cache_.CachedBytesOf(*(*version)->key))));
  if (BlockStore* disk_cache = fetcher_.store()) {
    attributes.push_back(Attribute("disk_cached_bytes",
                                   std::to_string(disk_cache->StoredBytesOf(*(*version)->key))));
  }
  if (address_report_) {
    const std::vector<std::string> addresses = address_report_(info.url);
    if (!addresses.empty()) {
      std::string text;
      for (const std::string& line : addresses) text += line + "\n";
      attributes.push_back(Attribute("addresses", std::move(text)));
    }
  }
  if (metrics_) {
    const FileTraffic traffic = metrics_->TrafficOf(info.url);
    attributes.push_back(Attribute("requests", std::to_string(traffic.requests)));
    attributes.push_back(Attribute("bytes_fetched", std::to_string(traffic.bytes_fetched)));
    attributes.push_back(Attribute("retries", std::to_string(traffic.retries)));
  }
  return attributes;
}

Result<std::string> Filesystem::ExtendedAttributeValue(const Node& node,
                                                       std::string_view name) const {
  Result<std::vector<ExtendedAttribute>> attributes = ExtendedAttributes(node);
  if (!attributes.ok()) return attributes.status();
  for (ExtendedAttribute& attribute : *attributes) {
    if (attribute.name == name) return std::move(attribute.value);
  }
  return Status(ErrorCode::kNoSuchAttribute, "no attribute " + std::string(name));
}

}  // namespace rangefs
