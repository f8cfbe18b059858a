#include "rangefs/filesystem.h"

namespace rangefs {
namespace {

constexpr uint64_t kFirstFileInode = Filesystem::kRootInode + 1;

}  // namespace

Filesystem::Filesystem(RangeSource& source, std::vector<NamedFile> files, std::time_t mount_time)
    : source_(source), files_(std::move(files)), mount_time_(mount_time) {}

const NamedFile* Filesystem::FileForInode(uint64_t inode) const {
  if (inode < kFirstFileInode || inode - kFirstFileInode >= files_.size()) return nullptr;
  return &files_[static_cast<size_t>(inode - kFirstFileInode)];
}

Attributes Filesystem::FileAttributes(size_t index) const {
  const RemoteFileInfo& info = files_[index].info;
  return Attributes{.inode = kFirstFileInode + index,
                    .is_directory = false,
                    .size = info.size,
                    .mtime = info.last_modified.value_or(mount_time_)};
}

Result<Attributes> Filesystem::Lookup(uint64_t parent, std::string_view name) const {
  if (parent != kRootInode) {
    if (FileForInode(parent)) return Status(ErrorCode::kNotADirectory, "not a directory");
    return Status(ErrorCode::kNotFound, "no such inode");
  }
  // Linear: a mount holds the handful of URLs given on the command line.
  for (size_t i = 0; i < files_.size(); ++i) {
    if (files_[i].name == name) return FileAttributes(i);
  }
  return Status(ErrorCode::kNotFound, "no such file: " + std::string(name));
}

Result<Attributes> Filesystem::GetAttributes(uint64_t inode) const {
  if (inode == kRootInode) {
    return Attributes{.inode = kRootInode, .is_directory = true, .size = 0, .mtime = mount_time_};
  }
  if (!FileForInode(inode)) return Status(ErrorCode::kNotFound, "no such inode");
  return FileAttributes(static_cast<size_t>(inode - kFirstFileInode));
}

Result<std::vector<DirectoryEntry>> Filesystem::ReadDirectory(uint64_t inode) const {
  if (inode != kRootInode) {
    if (FileForInode(inode)) return Status(ErrorCode::kNotADirectory, "not a directory");
    return Status(ErrorCode::kNotFound, "no such inode");
  }
  Result<Attributes> root = GetAttributes(kRootInode);
  std::vector<DirectoryEntry> entries;
  entries.reserve(files_.size() + 2);
  entries.push_back({".", *root});
  entries.push_back({"..", *root});
  for (size_t i = 0; i < files_.size(); ++i) entries.push_back({files_[i].name, FileAttributes(i)});
  return entries;
}

Result<std::unique_ptr<FileReader>> Filesystem::Open(uint64_t inode) const {
  if (inode == kRootInode) return Status(ErrorCode::kIsADirectory, "is a directory");
  const NamedFile* file = FileForInode(inode);
  if (!file) return Status(ErrorCode::kNotFound, "no such inode");
  return std::make_unique<FileReader>(source_, file->info);
}

}  // namespace rangefs
