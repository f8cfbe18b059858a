// Filesystem: building the tree. Paths of plain names make the folders they go through (fixed
// directories); files and remote directories are added under them.
#include <string>
#include <string_view>
#include <utility>

#include "rangefs/filesystem.h"

namespace rangefs {
namespace {

bool IsPlainName(std::string_view name);

// "a/b/c": plain names joined by single slashes.
bool IsPath(std::string_view path) {
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    if (!IsPlainName(path.substr(start, slash - start))) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool IsPlainName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

// Splits "a/b/c" into its folder "a/b" and its name "c".
std::pair<std::string_view, std::string_view> SplitPath(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {{}, path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

ListedEntry EntryNamed(std::string_view name, std::string url, bool is_directory) {
  ListedEntry entry;
  entry.name = std::string(name);
  entry.url = std::move(url);
  entry.is_directory = is_directory;
  return entry;
}

}  // namespace

Result<std::shared_ptr<MountedDirectory>> Filesystem::FolderAt(std::string_view path) {
  std::shared_ptr<MountedDirectory> folder;
  {
    std::shared_lock lock(root_mu_);
    folder = root_;
  }
  size_t start = 0;
  while (start < path.size()) {
    const size_t slash = std::min(path.find('/', start), path.size());
    const std::string_view name = path.substr(start, slash - start);
    if (!IsPlainName(name)) {
      return Status(ErrorCode::kInvalidArgument, "not a path of names: " + std::string(path));
    }
    if (folder->remote()) {
      return Status(ErrorCode::kInvalidArgument, std::string(path) + ": inside a remote directory");
    }
    std::shared_ptr<DirectoryChild> child = folder->KnownChildren()->Find(name);
    if (!child) {
      auto made = std::make_shared<MountedDirectory>(std::string(name), folder);
      const Status added = folder->Add(EntryNamed(name, {}, true), nullptr, made);
      if (!added.ok()) return added;
      folder = std::move(made);
    } else if (!child->entry.is_directory || !child->directory) {
      return Status(ErrorCode::kInvalidArgument,
                    std::string(path.substr(0, slash)) + " is a file and a folder");
    } else {
      folder = child->directory;
    }
    start = slash + 1;
  }
  return folder;
}

Status Filesystem::AddFile(NamedFile file) {
  const auto [folder_path, name] = SplitPath(file.name);
  if (!IsPath(file.name)) {
    return Status(ErrorCode::kInvalidArgument, "not a file name: " + file.name);
  }
  Result<std::shared_ptr<MountedDirectory>> folder = FolderAt(folder_path);
  if (!folder.ok()) return folder.status();
  ListedEntry entry{.name = std::string(name),
                    .url = file.info.url,
                    .is_directory = false,
                    .size = file.info.size,
                    .mtime = file.info.last_modified};
  std::shared_ptr<MountedFile> mounted =
      MakeFile(std::string(name), std::move(file.info), true, true, *folder);
  return (*folder)->Add(std::move(entry), std::move(mounted));
}

Status Filesystem::AddUnprobedFile(std::string_view path, std::string url) {
  const auto [folder_path, name] = SplitPath(path);
  if (!IsPath(path)) {
    return Status(ErrorCode::kInvalidArgument, "not a file name: " + std::string(path));
  }
  Result<std::shared_ptr<MountedDirectory>> folder = FolderAt(folder_path);
  if (!folder.ok()) return folder.status();
  // The file object is made on first use: until then the entry is all it costs.
  return (*folder)->Add(EntryNamed(name, std::move(url), false));
}

Status Filesystem::AddDirectory(std::string_view path, std::string url,
                                std::optional<Listing> listing) {
  if (path.empty()) {
    std::unique_lock lock(root_mu_);
    if (root_->remote() || !root_->KnownChildren()->children().empty()) {
      return Status(ErrorCode::kInvalidArgument, "the root holds other entries");
    }
    root_ = std::make_shared<MountedDirectory>("", std::weak_ptr<MountedDirectory>(),
                                               std::move(url), std::move(listing), clock_.Now());
    return Status();
  }
  const auto [folder_path, name] = SplitPath(path);
  if (!IsPath(path)) {
    return Status(ErrorCode::kInvalidArgument, "not a directory name: " + std::string(path));
  }
  Result<std::shared_ptr<MountedDirectory>> folder = FolderAt(folder_path);
  if (!folder.ok()) return folder.status();
  auto directory = std::make_shared<MountedDirectory>(std::string(name), *folder, url,
                                                      std::move(listing), clock_.Now());
  return (*folder)->Add(EntryNamed(name, std::move(url), true), nullptr, std::move(directory));
}

}  // namespace rangefs
