#include "rangefs/filesystem.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "fakes/memory_range_source.h"
#include "fakes/printers.h"

namespace rangefs {
namespace {

using fakes::FetchCall;
using fakes::MemoryRangeSource;

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr std::time_t kMountTime = 1'700'000'000;
constexpr std::time_t kLastModified = 1'600'000'000;

// Attributes has no operator==; compare (and print) it as a tuple.
auto Fields(const Attributes& a) {
  return std::make_tuple(a.inode, a.is_directory, a.size, a.mtime);
}

std::vector<std::string> Names(const std::vector<DirectoryEntry>& entries) {
  std::vector<std::string> names;
  for (const DirectoryEntry& entry : entries) names.push_back(entry.name);
  return names;
}

class FilesystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RemoteFileInfo big = source_.AddSyntheticFile("https://h/big.iso", 5 * kGiB, 1);
    big.last_modified = kLastModified;
    RemoteFileInfo text = source_.AddFile("https://h/hello.txt", "hello, world");
    RemoteFileInfo empty = source_.AddSyntheticFile("https://h/empty", 0, 2);
    // Deliberately not in alphabetical order: the directory lists mount order.
    files_ = {{"zz-big.iso", big}, {"hello.txt", text}, {"empty", empty}};
    fs_ = std::make_unique<Filesystem>(source_, files_, kMountTime);
  }

  uint64_t InodeOf(const std::string& name) {
    Result<Attributes> attributes = fs_->Lookup(Filesystem::kRootInode, name);
    EXPECT_TRUE(attributes.ok()) << name << ": " << attributes.status().ToString();
    return attributes.ok() ? attributes->inode : 0;
  }

  MemoryRangeSource source_;
  std::vector<NamedFile> files_;
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(FilesystemTest, RootIsADirectory) {
  Result<Attributes> root = fs_->GetAttributes(Filesystem::kRootInode);
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(root->inode, 1u);
  EXPECT_TRUE(root->is_directory);
  EXPECT_EQ(root->mtime, kMountTime);
}

TEST_F(FilesystemTest, LookupGivesEachFileItsProbedAttributes) {
  std::set<uint64_t> inodes;
  for (const NamedFile& file : files_) {
    SCOPED_TRACE(file.name);
    Result<Attributes> attributes = fs_->Lookup(Filesystem::kRootInode, file.name);
    ASSERT_TRUE(attributes.ok()) << attributes.status().ToString();
    EXPECT_GE(attributes->inode, 2u);
    EXPECT_FALSE(attributes->is_directory);
    EXPECT_EQ(attributes->size, file.info.size);
    EXPECT_EQ(attributes->mtime, file.info.last_modified.value_or(kMountTime));
    inodes.insert(attributes->inode);
  }
  EXPECT_EQ(inodes.size(), files_.size()) << "inodes are not distinct";
}

TEST_F(FilesystemTest, MtimeIsLastModifiedElseMountTime) {
  Result<Attributes> big = fs_->Lookup(Filesystem::kRootInode, "zz-big.iso");
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->mtime, kLastModified);
  EXPECT_EQ(big->size, 5 * kGiB);
  Result<Attributes> text = fs_->Lookup(Filesystem::kRootInode, "hello.txt");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(text->mtime, kMountTime);
  EXPECT_EQ(text->size, 12u);
}

TEST_F(FilesystemTest, LookupIsStable) {
  const uint64_t first = InodeOf("hello.txt");
  EXPECT_EQ(InodeOf("hello.txt"), first);
}

TEST_F(FilesystemTest, GetAttributesAgreesWithLookup) {
  for (const NamedFile& file : files_) {
    SCOPED_TRACE(file.name);
    Result<Attributes> looked_up = fs_->Lookup(Filesystem::kRootInode, file.name);
    ASSERT_TRUE(looked_up.ok()) << looked_up.status().ToString();
    Result<Attributes> got = fs_->GetAttributes(looked_up->inode);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(Fields(*got), Fields(*looked_up));
  }
}

TEST_F(FilesystemTest, LookupOfUnknownNameIsNotFound) {
  for (const char* name : {"missing", "", "HELLO.TXT", "hello.tx", "hello.txt/", "big.iso"}) {
    SCOPED_TRACE(name);
    Result<Attributes> got = fs_->Lookup(Filesystem::kRootInode, name);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), ErrorCode::kNotFound);
  }
}

TEST_F(FilesystemTest, LookupInAFileIsNotADirectory) {
  const uint64_t file = InodeOf("hello.txt");
  Result<Attributes> got = fs_->Lookup(file, "hello.txt");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kNotADirectory);
}

TEST_F(FilesystemTest, LookupInAnUnknownInodeIsNotFound) {
  for (uint64_t parent : {uint64_t{0}, uint64_t{999}, std::numeric_limits<uint64_t>::max()}) {
    SCOPED_TRACE(parent);
    Result<Attributes> got = fs_->Lookup(parent, "hello.txt");
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), ErrorCode::kNotFound);
  }
}

TEST_F(FilesystemTest, GetAttributesOfUnknownInodeIsNotFound) {
  std::set<uint64_t> known = {Filesystem::kRootInode};
  for (const NamedFile& file : files_) known.insert(InodeOf(file.name));
  for (uint64_t inode : {uint64_t{0}, uint64_t{2}, uint64_t{3}, uint64_t{4}, uint64_t{5},
                         uint64_t{999}, std::numeric_limits<uint64_t>::max()}) {
    if (known.count(inode) != 0) continue;
    SCOPED_TRACE(inode);
    Result<Attributes> got = fs_->GetAttributes(inode);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), ErrorCode::kNotFound);
  }
}

TEST_F(FilesystemTest, ReadDirectoryListsDotsThenFilesInMountOrder) {
  Result<std::vector<DirectoryEntry>> entries = fs_->ReadDirectory(Filesystem::kRootInode);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  EXPECT_EQ(Names(*entries),
            (std::vector<std::string>{".", "..", "zz-big.iso", "hello.txt", "empty"}));
  ASSERT_EQ(entries->size(), 5u);

  const DirectoryEntry& dot = (*entries)[0];
  EXPECT_EQ(dot.attributes.inode, Filesystem::kRootInode);
  EXPECT_TRUE(dot.attributes.is_directory);
  EXPECT_TRUE((*entries)[1].attributes.is_directory);

  for (size_t i = 2; i < entries->size(); ++i) {
    const DirectoryEntry& entry = (*entries)[i];
    SCOPED_TRACE(entry.name);
    Result<Attributes> looked_up = fs_->Lookup(Filesystem::kRootInode, entry.name);
    ASSERT_TRUE(looked_up.ok()) << looked_up.status().ToString();
    EXPECT_EQ(Fields(entry.attributes), Fields(*looked_up));
  }
}

TEST_F(FilesystemTest, ReadDirectoryOfAFileIsNotADirectory) {
  Result<std::vector<DirectoryEntry>> got = fs_->ReadDirectory(InodeOf("empty"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kNotADirectory);
}

TEST_F(FilesystemTest, ReadDirectoryOfUnknownInodeIsNotFound) {
  Result<std::vector<DirectoryEntry>> got = fs_->ReadDirectory(999);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kNotFound);
}

TEST_F(FilesystemTest, OpenOfTheDirectoryIsADirectory) {
  Result<std::unique_ptr<FileReader>> got = fs_->Open(Filesystem::kRootInode);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kIsADirectory);
}

TEST_F(FilesystemTest, OpenOfUnknownInodeIsNotFound) {
  for (uint64_t inode : {uint64_t{0}, uint64_t{999}}) {
    SCOPED_TRACE(inode);
    Result<std::unique_ptr<FileReader>> got = fs_->Open(inode);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), ErrorCode::kNotFound);
  }
}

TEST_F(FilesystemTest, OpenMakesNoRequests) {
  Result<std::unique_ptr<FileReader>> got = fs_->Open(InodeOf("hello.txt"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(source_.fetch_count(), 0u);
  EXPECT_EQ(source_.probe_count(), 0u);
}

TEST_F(FilesystemTest, OpenedReaderReadsThatFile) {
  for (const NamedFile& file : files_) {
    SCOPED_TRACE(file.name);
    Result<std::unique_ptr<FileReader>> reader = fs_->Open(InodeOf(file.name));
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    ASSERT_NE(*reader, nullptr);
    EXPECT_EQ((*reader)->file().url, file.info.url);
    EXPECT_EQ((*reader)->file().size, file.info.size);
    EXPECT_EQ((*reader)->file().etag, file.info.etag);
  }
}

TEST_F(FilesystemTest, ReadThroughOpenedReader) {
  Result<std::unique_ptr<FileReader>> reader = fs_->Open(InodeOf("hello.txt"));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<std::byte> buffer(64);
  Result<size_t> read = (*reader)->Read(7, buffer);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(*read, 5u);
  const std::string text(reinterpret_cast<const char*>(buffer.data()), *read);
  EXPECT_EQ(text, "world");
  EXPECT_EQ(source_.fetch_calls(),
            (std::vector<FetchCall>{{"https://h/hello.txt", ByteRange{7, 11}}}));
}

TEST_F(FilesystemTest, ReadAbove4GiBThroughOpenedReader) {
  Result<std::unique_ptr<FileReader>> reader = fs_->Open(InodeOf("zz-big.iso"));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<std::byte> buffer(4096);
  const uint64_t offset = 4 * kGiB + 3;
  Result<size_t> read = (*reader)->Read(offset, buffer);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(*read, buffer.size());
  const ByteRange range{offset, offset + buffer.size() - 1};
  EXPECT_EQ(source_.fetch_calls(), (std::vector<FetchCall>{{"https://h/big.iso", range}}));
  EXPECT_TRUE(buffer == source_.Content("https://h/big.iso", range));
}

TEST_F(FilesystemTest, ReaderFailuresKeepTheirCode) {
  Result<std::unique_ptr<FileReader>> reader = fs_->Open(InodeOf("hello.txt"));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  source_.FailAllFetches(Status(ErrorCode::kRangeNotSupported, "HTTP 200 for a range"));
  std::vector<std::byte> buffer(4);
  Result<size_t> read = (*reader)->Read(0, buffer);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), ErrorCode::kRangeNotSupported);
}

TEST(FilesystemEmptyTest, NoFiles) {
  MemoryRangeSource source;
  Filesystem fs(source, {}, kMountTime);
  Result<std::vector<DirectoryEntry>> entries = fs.ReadDirectory(Filesystem::kRootInode);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  EXPECT_EQ(Names(*entries), (std::vector<std::string>{".", ".."}));
  Result<Attributes> lookup = fs.Lookup(Filesystem::kRootInode, "x");
  ASSERT_FALSE(lookup.ok());
  EXPECT_EQ(lookup.status().code(), ErrorCode::kNotFound);
  Result<Attributes> attributes = fs.GetAttributes(2);
  ASSERT_FALSE(attributes.ok());
  EXPECT_EQ(attributes.status().code(), ErrorCode::kNotFound);
}

TEST_F(FilesystemTest, ConcurrentUse) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int& bad = failures[static_cast<size_t>(t)];
      for (int i = 0; i < kRounds; ++i) {
        Result<Attributes> attributes = fs_->Lookup(Filesystem::kRootInode, "hello.txt");
        if (!attributes.ok()) {
          ++bad;
          continue;
        }
        if (!fs_->ReadDirectory(Filesystem::kRootInode).ok()) ++bad;
        if (!fs_->GetAttributes(attributes->inode).ok()) ++bad;
        Result<std::unique_ptr<FileReader>> reader = fs_->Open(attributes->inode);
        if (!reader.ok()) {
          ++bad;
          continue;
        }
        std::vector<std::byte> buffer(5);
        Result<size_t> read = (*reader)->Read(0, buffer);
        if (!read.ok() || *read != 5u ||
            std::string(reinterpret_cast<const char*>(buffer.data()), 5) != "hello") {
          ++bad;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[static_cast<size_t>(t)], 0) << t;
}

}  // namespace
}  // namespace rangefs
