// InodeTable: the inode numbers of one FUSE session and the Nodes they stand for. The kernel
// knows files only by number; the core knows them by Node (a file's version, or the root). A
// number is dealt out the first time a Node is handed to the kernel and never reused for
// another Node in the session, so a number the kernel kept across a remote's change can only
// mean the version it stood for. The table grows as files and versions appear, and shrinks as
// the kernel forgets them (FUSE's lookup count: every entry reply counts one, FORGET takes
// them back).
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "rangefs/filesystem.h"

namespace rangefs {

class InodeTable {
 public:
  static constexpr uint64_t kRootInode = 1;  // FUSE_ROOT_ID

  InodeTable();

  // The number of `node`, counting one reference the kernel now holds (an entry reply).
  uint64_t Reference(const Node& node);
  // The number of `node` without counting a reference (a directory listing's entry). A number
  // dealt out here lasts until a reference to it is forgotten.
  uint64_t NumberOf(const Node& node);
  // The number of `node` if it has one now; never deals one out.
  std::optional<uint64_t> Existing(const Node& node) const;
  // What `inode` stands for; nullopt for a number never dealt out or forgotten.
  std::optional<Node> Find(uint64_t inode) const;
  // The kernel dropped `count` references to `inode`; at none, the number is forgotten. The
  // root is never forgotten.
  void Forget(uint64_t inode, uint64_t count);
  // Numbers in use, the root included.
  size_t size() const;

 private:
  struct Entry {
    Node node;
    uint64_t references = 0;
  };
  uint64_t NumberLocked(const Node& node);  // REQUIRES: mu_ held

  mutable std::mutex mu_;
  uint64_t next_ = kRootInode + 1;                        // Guarded by mu_
  std::unordered_map<uint64_t, Entry> by_inode_;          // Guarded by mu_
  std::unordered_map<Node, uint64_t, NodeHash> by_node_;  // Guarded by mu_
};

}  // namespace rangefs
