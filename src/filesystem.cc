#include "rangefs/filesystem.h"

#include <spdlog/spdlog.h>

#include "rangefs/imf_date.h"
#include "rangefs/redact.h"

namespace rangefs {
namespace {

constexpr uint64_t kFirstFileInode = Filesystem::kRootInode + 1;
// The user namespace: the one unprivileged readers may list, and that getfattr -d shows
// without a pattern.
constexpr std::string_view kAttributePrefix = "user.rangefs.";

ExtendedAttribute Attribute(std::string_view suffix, std::string value) {
  return {std::string(kAttributePrefix) + std::string(suffix), std::move(value)};
}

}  // namespace

Filesystem::Filesystem(RangeSource& source, std::vector<NamedFile> files, std::time_t mount_time,
                       const ReadOptions& read_options, std::chrono::milliseconds revalidate_after,
                       Metrics* metrics)
    : source_(source),
      cache_(read_options.cache_size),
      fetcher_(cache_, source, read_options.block_size),
      prefetcher_(fetcher_, read_options.connections, read_options.max_request_bytes,
                  read_options.max_ranges),
      mount_time_(mount_time),
      revalidate_after_(revalidate_after),
      read_options_(read_options),
      metrics_(metrics) {
  const ReadaheadConfig readahead = EffectiveReadahead(read_options);
  const auto probed_at = MountedFile::Clock::now();
  files_.reserve(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    files_.push_back(std::make_unique<MountedFile>(
        std::move(files[i].name),
        [this, i](uint64_t generation) { return InodeFor(i, generation); },
        std::move(files[i].info), probed_at, readahead));
  }
}

Filesystem::~Filesystem() = default;

// Inodes are dealt out round-robin: generation g of file i is inode 2 + i + g * file count, so
// every version of every file has its own, and no table is needed to map them back.
uint64_t Filesystem::InodeFor(size_t file_index, uint64_t generation) const {
  return kFirstFileInode + file_index + generation * files_.size();
}

Filesystem::Located Filesystem::Locate(uint64_t inode) const {
  if (inode < kFirstFileInode || files_.empty()) return {};
  const uint64_t offset = inode - kFirstFileInode;
  MountedFile* file = files_[static_cast<size_t>(offset % files_.size())].get();
  const uint64_t generation = offset / files_.size();
  // A version yet to come has no inode yet.
  if (generation > file->current()->generation) return {};
  return {.file = file, .generation = generation};
}

MountedFile* Filesystem::FileOf(const FileVersion& version) const {
  return Locate(version.inode).file;
}

Attributes Filesystem::AttributesOf(const FileVersion& version) const {
  return Attributes{.inode = version.inode,
                    .generation = version.generation,
                    .is_directory = false,
                    .size = version.info.size,
                    .mtime = version.info.last_modified.value_or(mount_time_)};
}

void Filesystem::Revalidate(MountedFile& file, MountedFile::Clock::time_point asked_at,
                            const FileVersion* suspect) {
  std::lock_guard lock(file.revalidation_mutex());
  const auto started = MountedFile::Clock::now();
  const auto confirmed = file.confirmed_at();
  // Waiting for the lock may have been waiting for a probe that answers this call too.
  if (confirmed >= asked_at) return;
  if (suspect ? !file.IsCurrent(*suspect) : started - confirmed < revalidate_after_) return;

  const FileVersionPtr before = file.current();
  Result<RemoteFileInfo> probed = source_.Probe(before->info.url);
  if (!probed.ok()) {
    // Keep the version: reads carry its validators, so a changed remote still cannot mix
    // versions, and the next lookup or open tries again.
    spdlog::warn("{}: could not confirm the version with the server: {}", file.name(),
                 probed.status().ToString());
    return;
  }
  const FileVersionPtr replaced = file.Adopt(std::move(probed).value(), started);
  if (!replaced) {
    if (suspect) {
      spdlog::warn(
          "{}: a response looked like another version, but the server still "
          "describes this one ({})",
          file.name(), DescribeVersion(before->info));
    }
    return;
  }
  if (metrics_) metrics_->CountVersionChange();
  const size_t dropped = cache_.Retire(replaced->inode);
  spdlog::warn("{}: remote changed ({} -> {}); dropped {} cached blocks of the old version",
               file.name(), DescribeVersion(replaced->info), DescribeVersion(file.current()->info),
               dropped);
  if (listener_) listener_(file.name());
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

bool Filesystem::IsCurrent(const FileVersion& version) const {
  const MountedFile* file = FileOf(version);
  return file && file->IsCurrent(version);
}

void Filesystem::ReportChanged(const FileVersion& version, const Status& evidence) {
  MountedFile* file = FileOf(version);
  // A replaced version's readers fail without asking anyone: the change is known.
  if (!file || !file->IsCurrent(version)) return;
  spdlog::info("{}: a response came from another version: {}", file->name(), evidence.message());
  Revalidate(*file, MountedFile::Clock::now(), &version);
}

Result<Attributes> Filesystem::Lookup(uint64_t parent, std::string_view name) {
  if (parent != kRootInode) {
    if (Locate(parent).file) return Status(ErrorCode::kNotADirectory, "not a directory");
    return Status(ErrorCode::kNotFound, "no such inode");
  }
  // Linear: a mount holds the handful of URLs given on the command line.
  for (const auto& file : files_) {
    if (file->name() != name) continue;
    Revalidate(*file, MountedFile::Clock::now(), nullptr);
    return AttributesOf(*file->current());
  }
  return Status(ErrorCode::kNotFound, "no such file: " + std::string(name));
}

Result<Attributes> Filesystem::GetAttributes(uint64_t inode) const {
  if (inode == kRootInode) {
    return Attributes{.inode = kRootInode,
                      .generation = 0,
                      .is_directory = true,
                      .size = 0,
                      .mtime = mount_time_};
  }
  const Located located = Locate(inode);
  if (!located.file) return Status(ErrorCode::kNotFound, "no such inode");
  const FileVersionPtr version = located.file->Find(located.generation);
  if (!version) return Status(ErrorCode::kStaleHandle, "a replaced version of the file");
  return AttributesOf(*version);
}

Result<std::vector<DirectoryEntry>> Filesystem::ReadDirectory(uint64_t inode) const {
  if (inode != kRootInode) {
    if (Locate(inode).file) return Status(ErrorCode::kNotADirectory, "not a directory");
    return Status(ErrorCode::kNotFound, "no such inode");
  }
  Result<Attributes> root = GetAttributes(kRootInode);
  std::vector<DirectoryEntry> entries;
  entries.reserve(files_.size() + 2);
  entries.push_back({".", *root});
  entries.push_back({"..", *root});
  for (const auto& file : files_) {
    entries.push_back({file->name(), AttributesOf(*file->current())});
  }
  return entries;
}

Result<OpenedFile> Filesystem::Open(uint64_t inode) {
  if (inode == kRootInode) return Status(ErrorCode::kIsADirectory, "is a directory");
  const Located located = Locate(inode);
  if (!located.file) return Status(ErrorCode::kNotFound, "no such inode");
  MountedFile& file = *located.file;
  const Status stale(ErrorCode::kStaleHandle, "the remote file has a newer version");
  if (file.current()->generation != located.generation) return stale;
  Revalidate(file, MountedFile::Clock::now(), nullptr);
  FileVersionPtr version = file.current();
  if (version->generation != located.generation) return stale;
  if (file.FirstOpenOf(version->generation)) PrefetchForFirstOpen(version);
  VersionRegistry& versions = *this;
  return OpenedFile{
      .reader = std::make_unique<FileReader>(fetcher_, prefetcher_, file.readahead(), versions,
                                             std::move(version), stop_.get_token(), metrics_),
      // Each inode holds one version, so what the kernel cached stays valid.
      .keep_cache = true};
}

Result<std::vector<ExtendedAttribute>> Filesystem::ExtendedAttributes(uint64_t inode) const {
  if (inode == kRootInode) return std::vector<ExtendedAttribute>();
  const Located located = Locate(inode);
  if (!located.file) return Status(ErrorCode::kNotFound, "no such inode");
  const FileVersionPtr version = located.file->Find(located.generation);
  if (!version) return Status(ErrorCode::kStaleHandle, "a replaced version of the file");
  const RemoteFileInfo& info = version->info;
  std::vector<ExtendedAttribute> attributes;
  attributes.push_back(Attribute("url", RedactUrl(info.url)));
  // Absent rather than empty when the server sent none: an empty value would read as a
  // validator that is the empty string.
  if (!info.etag.empty()) attributes.push_back(Attribute("etag", info.etag));
  if (info.last_modified) {
    attributes.push_back(Attribute("last_modified", FormatImfDate(*info.last_modified)));
  }
  attributes.push_back(
      Attribute("cached_bytes", std::to_string(cache_.CachedBytesOf(version->inode))));
  if (metrics_) {
    const FileTraffic traffic = metrics_->TrafficOf(info.url);
    attributes.push_back(Attribute("requests", std::to_string(traffic.requests)));
    attributes.push_back(Attribute("bytes_fetched", std::to_string(traffic.bytes_fetched)));
    attributes.push_back(Attribute("retries", std::to_string(traffic.retries)));
  }
  return attributes;
}

Result<std::string> Filesystem::ExtendedAttributeValue(uint64_t inode,
                                                       std::string_view name) const {
  Result<std::vector<ExtendedAttribute>> attributes = ExtendedAttributes(inode);
  if (!attributes.ok()) return attributes.status();
  for (ExtendedAttribute& attribute : *attributes) {
    if (attribute.name == name) return std::move(attribute.value);
  }
  return Status(ErrorCode::kNoSuchAttribute, "no attribute " + std::string(name));
}

}  // namespace rangefs
