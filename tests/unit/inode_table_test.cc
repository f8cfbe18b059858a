#include "fuse/inode_table.h"

#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <set>
#include <vector>

#include "rangefs/mounted_file.h"

namespace rangefs {
namespace {

std::shared_ptr<MountedFile> MakeFile(const std::string& name) {
  RemoteFileInfo info;
  info.url = "https://h/" + name;
  info.size = 10;
  return std::make_shared<MountedFile>(name, info, MountedFile::Clock::time_point(), 4096,
                                       ReadaheadConfig(), nullptr);
}

TEST(InodeTableTest, TheRootIsOneAndAlwaysKnown) {
  InodeTable table;
  EXPECT_EQ(table.NumberOf(Filesystem::Root()), InodeTable::kRootInode);
  EXPECT_EQ(table.Reference(Filesystem::Root()), InodeTable::kRootInode);
  table.Forget(InodeTable::kRootInode, 100);
  ASSERT_TRUE(table.Find(InodeTable::kRootInode).has_value());
  EXPECT_EQ(*table.Find(InodeTable::kRootInode), Filesystem::Root());
}

TEST(InodeTableTest, EachNodeGetsItsOwnNumberAndKeepsIt) {
  InodeTable table;
  const auto file = MakeFile("a");
  const Node first{file, nullptr, 0};
  const Node second{file, nullptr, 1};
  const Node other{MakeFile("b"), nullptr, 0};
  const uint64_t a0 = table.Reference(first);
  const uint64_t a1 = table.Reference(second);
  const uint64_t b0 = table.Reference(other);
  EXPECT_EQ(std::set<uint64_t>({InodeTable::kRootInode, a0, a1, b0}).size(), 4u);
  EXPECT_EQ(table.Reference(first), a0);
  EXPECT_EQ(table.NumberOf(first), a0);
  EXPECT_EQ(table.Find(a1), second);
  EXPECT_EQ(table.size(), 4u);
}

TEST(InodeTableTest, NumbersNeverDealtOutAreUnknown) {
  InodeTable table;
  const uint64_t known = table.Reference(Node{MakeFile("a"), nullptr, 0});
  for (uint64_t inode :
       {uint64_t{0}, known + 1, uint64_t{999}, std::numeric_limits<uint64_t>::max()}) {
    EXPECT_FALSE(table.Find(inode).has_value()) << inode;
  }
}

TEST(InodeTableTest, ANumberLastsUntilEveryReferenceIsForgotten) {
  InodeTable table;
  const Node node{MakeFile("a"), nullptr, 0};
  const uint64_t inode = table.Reference(node);
  table.Reference(node);
  table.Reference(node);
  table.Forget(inode, 2);
  EXPECT_TRUE(table.Find(inode).has_value());
  table.Forget(inode, 1);
  EXPECT_FALSE(table.Find(inode).has_value());
  EXPECT_EQ(table.size(), 1u);
  // The kernel forgetting more than it held, or a number twice, changes nothing else.
  table.Forget(inode, 5);
  EXPECT_EQ(table.size(), 1u);
}

TEST(InodeTableTest, AForgottenNodeSeenAgainGetsANewNumber) {
  // A number the kernel may still hold in some stale handle must not come to mean another
  // node; a fresh number for the old node is harmless.
  InodeTable table;
  const Node node{MakeFile("a"), nullptr, 0};
  const uint64_t first = table.Reference(node);
  table.Forget(first, 1);
  const uint64_t second = table.Reference(node);
  EXPECT_NE(second, first);
  EXPECT_FALSE(table.Find(first).has_value());
}

TEST(InodeTableTest, AListingsNumberIsTheOneALookupThenGets) {
  InodeTable table;
  const Node node{MakeFile("a"), nullptr, 0};
  const uint64_t listed = table.NumberOf(node);
  EXPECT_EQ(table.Reference(node), listed);
  table.Forget(listed, 1);
  EXPECT_FALSE(table.Find(listed).has_value());
}

TEST(InodeTableTest, HoldsItsFileAliveUntilForgotten) {
  InodeTable table;
  std::weak_ptr<MountedFile> watched;
  uint64_t inode = 0;
  {
    const auto file = MakeFile("a");
    watched = file;
    inode = table.Reference(Node{file, nullptr, 0});
  }
  EXPECT_FALSE(watched.expired()) << "the kernel may still ask about it";
  table.Forget(inode, 1);
  EXPECT_TRUE(watched.expired());
}

}  // namespace
}  // namespace rangefs
