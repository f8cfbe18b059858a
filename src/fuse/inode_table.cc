#include "fuse/inode_table.h"

namespace rangefs {

InodeTable::InodeTable() {
  by_inode_.emplace(kRootInode, Entry{.node = Filesystem::Root(), .references = 1});
  by_node_.emplace(Filesystem::Root(), kRootInode);
}

uint64_t InodeTable::NumberLocked(const Node& node) {
  const auto [found, inserted] = by_node_.try_emplace(node, next_);
  if (inserted) by_inode_.emplace(next_++, Entry{.node = node, .references = 0});
  return found->second;
}

uint64_t InodeTable::Reference(const Node& node) {
  std::lock_guard lock(mu_);
  const uint64_t inode = NumberLocked(node);
  ++by_inode_.at(inode).references;
  return inode;
}

uint64_t InodeTable::NumberOf(const Node& node) {
  std::lock_guard lock(mu_);
  return NumberLocked(node);
}

std::optional<uint64_t> InodeTable::Existing(const Node& node) const {
  std::lock_guard lock(mu_);
  const auto found = by_node_.find(node);
  if (found == by_node_.end()) return std::nullopt;
  return found->second;
}

std::optional<Node> InodeTable::Find(uint64_t inode) const {
  std::lock_guard lock(mu_);
  const auto found = by_inode_.find(inode);
  if (found == by_inode_.end()) return std::nullopt;
  return found->second.node;
}

void InodeTable::Forget(uint64_t inode, uint64_t count) {
  if (inode == kRootInode) return;
  Node forgotten;  // released after the lock: it may hold the last reference to its file
  std::lock_guard lock(mu_);
  const auto found = by_inode_.find(inode);
  if (found == by_inode_.end()) return;
  Entry& entry = found->second;
  entry.references = count >= entry.references ? 0 : entry.references - count;
  if (entry.references > 0) return;
  forgotten = std::move(entry.node);
  by_node_.erase(forgotten);
  by_inode_.erase(found);
}

size_t InodeTable::size() const {
  std::lock_guard lock(mu_);
  return by_inode_.size();
}

}  // namespace rangefs
