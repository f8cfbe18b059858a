#include "rangefs/filesystem.h"

namespace rangefs {
namespace {

constexpr uint64_t kFirstFileInode = Filesystem::kRootInode + 1;

}  // namespace

struct Filesystem::Node {
  Node(std::string file_name, FileVersionPtr file_version, const ReadaheadConfig& readahead_config)
      : name(std::move(file_name)), version(std::move(file_version)), readahead(readahead_config) {}

  const std::string name;
  const FileVersionPtr version;       // the remote never changes under a mount yet: see issue #4
  mutable SharedReadahead readahead;  // internally synchronized
};

Filesystem::Filesystem(RangeSource& source, std::vector<NamedFile> files, std::time_t mount_time,
                       const ReadOptions& read_options)
    : cache_(read_options.cache_size),
      fetcher_(cache_, source, read_options.block_size),
      prefetcher_(fetcher_, read_options.connections, read_options.max_request_bytes),
      mount_time_(mount_time) {
  const ReadaheadConfig readahead = EffectiveReadahead(read_options);
  nodes_.reserve(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    auto version = std::make_shared<const FileVersion>(FileVersion{
        .inode = kFirstFileInode + i, .generation = 0, .info = std::move(files[i].info)});
    nodes_.push_back(
        std::make_unique<Node>(std::move(files[i].name), std::move(version), readahead));
  }
}

Filesystem::~Filesystem() = default;

const Filesystem::Node* Filesystem::NodeForInode(uint64_t inode) const {
  if (inode < kFirstFileInode || inode - kFirstFileInode >= nodes_.size()) return nullptr;
  return nodes_[static_cast<size_t>(inode - kFirstFileInode)].get();
}

Attributes Filesystem::FileAttributes(const Node& node) const {
  const RemoteFileInfo& info = node.version->info;
  return Attributes{.inode = node.version->inode,
                    .is_directory = false,
                    .size = info.size,
                    .mtime = info.last_modified.value_or(mount_time_)};
}

Result<Attributes> Filesystem::Lookup(uint64_t parent, std::string_view name) const {
  if (parent != kRootInode) {
    if (NodeForInode(parent)) return Status(ErrorCode::kNotADirectory, "not a directory");
    return Status(ErrorCode::kNotFound, "no such inode");
  }
  // Linear: a mount holds the handful of URLs given on the command line.
  for (const auto& node : nodes_) {
    if (node->name == name) return FileAttributes(*node);
  }
  return Status(ErrorCode::kNotFound, "no such file: " + std::string(name));
}

Result<Attributes> Filesystem::GetAttributes(uint64_t inode) const {
  if (inode == kRootInode) {
    return Attributes{.inode = kRootInode, .is_directory = true, .size = 0, .mtime = mount_time_};
  }
  const Node* node = NodeForInode(inode);
  if (!node) return Status(ErrorCode::kNotFound, "no such inode");
  return FileAttributes(*node);
}

Result<std::vector<DirectoryEntry>> Filesystem::ReadDirectory(uint64_t inode) const {
  if (inode != kRootInode) {
    if (NodeForInode(inode)) return Status(ErrorCode::kNotADirectory, "not a directory");
    return Status(ErrorCode::kNotFound, "no such inode");
  }
  Result<Attributes> root = GetAttributes(kRootInode);
  std::vector<DirectoryEntry> entries;
  entries.reserve(nodes_.size() + 2);
  entries.push_back({".", *root});
  entries.push_back({"..", *root});
  for (const auto& node : nodes_) entries.push_back({node->name, FileAttributes(*node)});
  return entries;
}

Result<OpenedFile> Filesystem::Open(uint64_t inode) {
  if (inode == kRootInode) return Status(ErrorCode::kIsADirectory, "is a directory");
  const Node* node = NodeForInode(inode);
  if (!node) return Status(ErrorCode::kNotFound, "no such inode");
  return OpenedFile{
      .reader = std::make_unique<FileReader>(fetcher_, prefetcher_, node->readahead, node->version),
      // The version cannot change under the mount yet, so pages the kernel cached stay valid.
      .keep_cache = true};
}

}  // namespace rangefs
