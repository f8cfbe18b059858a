#include "rangefs/filesystem.h"

#include <spdlog/spdlog.h>

#include <cassert>
#include <mutex>

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

bool IsPlainName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

}  // namespace

Filesystem::Filesystem(RangeSource& source, const Scheduler& clock, std::vector<NamedFile> files,
                       std::time_t mount_time, const ReadOptions& read_options,
                       std::chrono::milliseconds revalidate_after, Metrics* metrics)
    : source_(source),
      clock_(clock),
      cache_(read_options.cache_size),
      fetcher_(cache_, source, read_options.block_size),
      prefetcher_(fetcher_, read_options.connections, read_options.max_request_bytes,
                  read_options.max_ranges),
      mount_time_(mount_time),
      revalidate_after_(revalidate_after),
      read_options_(read_options),
      readahead_(EffectiveReadahead(read_options)),
      metrics_(metrics) {
  for (NamedFile& file : files) {
    const Status added = AddFile(std::move(file));
    assert(added.ok() && "the command line gives each file its own name");
    (void)added;
  }
}

Filesystem::~Filesystem() = default;

Status Filesystem::AddFile(NamedFile file) {
  if (!IsPlainName(file.name)) {
    return Status(ErrorCode::kInvalidArgument, "not a file name: " + file.name);
  }
  auto on_change = [this](MountedFile& changed, const FileVersion& version,
                          const Status& evidence) {
    spdlog::info("{}: a response came from another version: {}", changed.name(),
                 evidence.message());
    Revalidate(changed, clock_.Now(), &version);
  };
  auto mounted =
      std::make_shared<MountedFile>(file.name, std::move(file.info), clock_.Now(),
                                    read_options_.block_size, readahead_, std::move(on_change));
  std::unique_lock lock(files_mu_);
  if (!by_name_.try_emplace(mounted->name(), mounted).second) {
    return Status(ErrorCode::kInvalidArgument, "two files named " + mounted->name());
  }
  files_.push_back(std::move(mounted));
  return Status();
}

std::shared_ptr<MountedFile> Filesystem::FileNamed(std::string_view name) const {
  std::shared_lock lock(files_mu_);
  const auto found = by_name_.find(std::string(name));
  return found == by_name_.end() ? nullptr : found->second;
}

Result<FileVersionPtr> Filesystem::VersionOf(const Node& node) const {
  if (!node.file) return Status(ErrorCode::kNotFound, "not a file");
  FileVersionPtr version = node.file->Find(node.generation);
  if (!version) return Status(ErrorCode::kStaleHandle, "a replaced version of the file");
  return version;
}

Attributes Filesystem::AttributesOf(const std::shared_ptr<MountedFile>& file,
                                    const FileVersion& version) const {
  return Attributes{.node = {.file = file, .generation = version.generation},
                    .is_directory = false,
                    .size = version.info.size,
                    .mtime = version.info.last_modified.value_or(mount_time_)};
}

void Filesystem::Revalidate(MountedFile& file, MountedFile::Clock::time_point asked_at,
                            const FileVersion* suspect) {
  const auto probe = [this](const RemoteFileInfo& current) { return source_.Probe(current.url); };
  const std::optional<MountedFile::Probed> probed =
      file.Revalidate(asked_at, suspect, revalidate_after_, clock_, probe);
  if (!probed) return;  // not needed, or another caller's probe answered
  if (!probed->status.ok()) {
    // The version stays: reads carry its validators, so a changed remote still cannot mix
    // versions, and the next lookup or open tries again.
    spdlog::warn("{}: could not confirm the version with the server: {}", file.name(),
                 probed->status.ToString());
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
  if (metrics_) metrics_->CountVersionChange();
  const size_t dropped = cache_.Retire(*probed->replaced->key);
  spdlog::warn("{}: remote changed ({} -> {}); dropped {} cached blocks of the old version",
               file.name(), DescribeVersion(probed->replaced->info),
               DescribeVersion(file.current()->info), dropped);
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

Result<Attributes> Filesystem::Lookup(const Node& parent, std::string_view name) {
  if (parent.file) return Status(ErrorCode::kNotADirectory, "not a directory");
  const std::shared_ptr<MountedFile> file = FileNamed(name);
  if (!file) return Status(ErrorCode::kNotFound, "no such file: " + std::string(name));
  Revalidate(*file, clock_.Now(), nullptr);
  return AttributesOf(file, *file->current());
}

Result<Attributes> Filesystem::GetAttributes(const Node& node) const {
  if (!node.file) {
    return Attributes{.node = Root(), .is_directory = true, .size = 0, .mtime = mount_time_};
  }
  Result<FileVersionPtr> version = VersionOf(node);
  if (!version.ok()) return version.status();
  return AttributesOf(node.file, **version);
}

Result<std::vector<DirectoryEntry>> Filesystem::ReadDirectory(const Node& node) const {
  if (node.file) return Status(ErrorCode::kNotADirectory, "not a directory");
  Result<Attributes> root = GetAttributes(Root());
  std::vector<DirectoryEntry> entries;
  std::shared_lock lock(files_mu_);
  entries.reserve(files_.size() + 2);
  entries.push_back({".", *root});
  entries.push_back({"..", *root});
  for (const std::shared_ptr<MountedFile>& file : files_) {
    entries.push_back({file->name(), AttributesOf(file, *file->current())});
  }
  return entries;
}

Result<OpenedFile> Filesystem::Open(const Node& node) {
  if (!node.file) return Status(ErrorCode::kIsADirectory, "is a directory");
  MountedFile& file = *node.file;
  const Status stale(ErrorCode::kStaleHandle, "the remote file has a newer version");
  if (file.current()->generation != node.generation) return stale;
  Revalidate(file, clock_.Now(), nullptr);
  FileVersionPtr version = file.current();
  if (version->generation != node.generation) return stale;
  if (file.FirstOpenOf(version->generation)) PrefetchForFirstOpen(version);
  return OpenedFile{
      .reader = std::make_unique<FileReader>(fetcher_, prefetcher_, file.readahead(), file,
                                             std::move(version), stop_.get_token(), metrics_),
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
