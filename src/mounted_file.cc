#include "rangefs/mounted_file.h"

#include <utility>

namespace rangefs {

MountedFile::MountedFile(std::string name, InodeOf inode_of, RemoteFileInfo info,
                         Clock::time_point probed_at, const ReadaheadConfig& readahead)
    : name_(std::move(name)),
      inode_of_(std::move(inode_of)),
      readahead_(readahead),
      current_(std::make_shared<const FileVersion>(
          FileVersion{.inode = inode_of_(0), .generation = 0, .info = std::move(info)})),
      confirmed_at_(probed_at) {}

FileVersionPtr MountedFile::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

bool MountedFile::IsCurrent(const FileVersion& version) const {
  std::lock_guard lock(mu_);
  return current_->generation == version.generation;
}

FileVersionPtr MountedFile::Find(uint64_t generation) const {
  std::lock_guard lock(mu_);
  if (current_->generation == generation) return current_;
  const auto found = old_.find(generation);
  return found == old_.end() ? nullptr : found->second.lock();
}

MountedFile::Clock::time_point MountedFile::confirmed_at() const {
  std::lock_guard lock(mu_);
  return confirmed_at_;
}

FileVersionPtr MountedFile::Adopt(RemoteFileInfo probed, Clock::time_point probed_at) {
  std::lock_guard lock(mu_);
  // A probe that started before the one that made the current version says nothing newer.
  if (probed_at < confirmed_at_) return nullptr;
  confirmed_at_ = probed_at;
  if (SameVersion(current_->info, probed)) return nullptr;

  std::erase_if(old_, [](const auto& entry) { return entry.second.expired(); });
  FileVersionPtr replaced = std::move(current_);
  old_.emplace(replaced->generation, replaced);
  const uint64_t generation = replaced->generation + 1;
  current_ = std::make_shared<const FileVersion>(FileVersion{
      .inode = inode_of_(generation), .generation = generation, .info = std::move(probed)});
  return replaced;
}

bool MountedFile::FirstOpenOf(uint64_t generation) {
  std::lock_guard lock(mu_);
  if (opened_generation_ && *opened_generation_ >= generation) return false;
  opened_generation_ = generation;
  return true;
}

}  // namespace rangefs
