// The Filesystem as a tree: folders from paths, remote directories listed lazily, files probed
// only when needed, and the probes and listings a walk gets ahead of time.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "fakes/eventually.h"
#include "fakes/manual_scheduler.h"
#include "fakes/memory_lister.h"
#include "fakes/memory_range_source.h"
#include "rangefs/filesystem.h"

namespace rangefs {
namespace {

using fakes::ListedDirectory;
using fakes::ListedFile;
using fakes::MemoryLister;
using fakes::MemoryRangeSource;
using namespace std::chrono_literals;

constexpr char kPub[] = "http://h/pub/";
constexpr std::time_t kMountTime = 1'700'000'000;
constexpr auto kTtl = 60s;
constexpr auto kRevalidateNever = std::chrono::hours(24 * 365);

std::vector<std::string> Names(const std::vector<DirectoryEntry>& entries) {
  std::vector<std::string> names;
  for (const DirectoryEntry& entry : entries) names.push_back(entry.name);
  return names;
}

class FilesystemTreeTest : public ::testing::Test {
 protected:
  std::unique_ptr<Filesystem> Make(size_t ahead_workers = 0) {
    ReadOptions options;
    options.block_size = 4096;
    options.cache_size = 1 << 20;
    options.open_prefetch = false;
    DirectoryOptions directories{
        .lister = &lister_, .ttl = kTtl, .retry_failed_after = 10s, .ahead_workers = ahead_workers};
    auto fs = std::make_unique<Filesystem>(source_, clock_, std::vector<NamedFile>{}, kMountTime,
                                           options, kRevalidateNever, nullptr, directories);
    fs->SetVersionListener([this](const Node& parent, const std::string& name) {
      changed_.push_back({parent, name});
    });
    return fs;
  }

  // Looks a path up from the root, or fails the test.
  Attributes Walk(Filesystem& fs, const std::vector<std::string>& path) {
    Node node = Filesystem::Root();
    Attributes attributes;
    for (const std::string& name : path) {
      Result<Attributes> found = fs.Lookup(node, name);
      EXPECT_TRUE(found.ok()) << name << ": " << found.status().ToString();
      if (!found.ok()) return {};
      attributes = *found;
      node = found->node;
    }
    return attributes;
  }

  std::string ReadAll(Filesystem& fs, const Attributes& file) {
    Result<OpenedFile> opened = fs.Open(file.node);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok()) return {};
    Result<ReadBuffer> read = opened->reader->Read(0, file.size);
    EXPECT_TRUE(read.ok()) << read.status().ToString();
    if (!read.ok()) return {};
    std::vector<std::byte> bytes(read->size());
    read->CopyTo(bytes);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  MemoryRangeSource source_;
  fakes::ManualScheduler clock_;
  MemoryLister lister_;
  std::vector<std::pair<Node, std::string>> changed_;
};

TEST_F(FilesystemTreeTest, PathsMakeFoldersAndNamesStayUnique) {
  auto fs = Make();
  const RemoteFileInfo a = source_.AddFile("http://h/a", "aaa");
  ASSERT_TRUE(fs->AddFile({"x/y/a", a}).ok());
  ASSERT_TRUE(fs->AddUnprobedFile("x/b", "http://h/b").ok());
  EXPECT_EQ(fs->AddFile({"x/y/a", a}).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(fs->AddFile({"x/y/a/c", a}).code(), ErrorCode::kInvalidArgument)
      << "a file is no folder";
  for (const char* bad : {"", "x//a", "/a", "x/", "x/../a", "x/./a"}) {
    EXPECT_EQ(fs->AddFile({bad, a}).code(), ErrorCode::kInvalidArgument) << bad;
  }
  const Attributes x = Walk(*fs, {"x"});
  EXPECT_TRUE(x.is_directory);
  Result<std::vector<DirectoryEntry>> entries = fs->ReadDirectory(x.node);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(Names(*entries), (std::vector<std::string>{".", "..", "y", "b"}));
  EXPECT_TRUE((*entries)[1].attributes.node.is_root());
  const Attributes file = Walk(*fs, {"x", "y", "a"});
  EXPECT_EQ(file.size, 3u);
  EXPECT_EQ(ReadAll(*fs, file), "aaa");
  EXPECT_EQ(fs->Lookup(x.node, "nope").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(fs->Lookup(file.node, "a").status().code(), ErrorCode::kNotADirectory);
}

TEST_F(FilesystemTreeTest, AnExactListedSizeServesLookupsAndTheFirstOpenProbes) {
  source_.AddFile("http://h/pub/f.txt", "hello");
  lister_.SetEntries(kPub, {ListedFile(kPub, "f.txt", 5, 1'600'000'000)});
  auto fs = Make();
  ASSERT_TRUE(fs->AddDirectory("", kPub, std::nullopt).ok());
  const Attributes file = Walk(*fs, {"f.txt"});
  EXPECT_EQ(file.size, 5u);
  EXPECT_EQ(file.mtime, 1'600'000'000);
  Result<std::vector<DirectoryEntry>> entries = fs->ReadDirectory(Filesystem::Root());
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE((*entries)[2].attributes_known);
  EXPECT_EQ((*entries)[2].attributes.node, file.node) << "readdir and lookup agree";
  EXPECT_EQ(source_.probe_count(), 0u) << "the listing said it all";
  EXPECT_EQ(lister_.calls(kPub), 1u);
  EXPECT_EQ(ReadAll(*fs, file), "hello");
  EXPECT_EQ(source_.probe_count(), 1u);
  EXPECT_TRUE(changed_.empty());
}

TEST_F(FilesystemTreeTest, AnUnknownSizeIsProbedAtTheFirstLookupAndAGoneFileIsNotFound) {
  source_.AddFile("http://h/pub/f.txt", "hello");
  lister_.SetEntries(kPub, {ListedFile(kPub, "f.txt"), ListedFile(kPub, "gone")});
  auto fs = Make();
  ASSERT_TRUE(fs->AddDirectory("", kPub, std::nullopt).ok());
  Result<std::vector<DirectoryEntry>> entries = fs->ReadDirectory(Filesystem::Root());
  ASSERT_TRUE(entries.ok());
  EXPECT_FALSE((*entries)[2].attributes_known);
  EXPECT_EQ(source_.probe_count(), 0u) << "readdir needs no size";
  const Attributes file = Walk(*fs, {"f.txt"});
  EXPECT_EQ(file.size, 5u);
  EXPECT_EQ(file.node, (*entries)[2].attributes.node)
      << "the probe completes the version readdir numbered";
  EXPECT_EQ(source_.probe_count(), 1u);
  EXPECT_EQ(fs->Lookup(Filesystem::Root(), "gone").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(ReadAll(*fs, file), "hello");
}

TEST_F(FilesystemTreeTest, AProbeThatContradictsTheListedSizeMakesANewVersion) {
  source_.AddFile("http://h/pub/f.txt", "longer than listed");
  lister_.SetEntries(kPub, {ListedFile(kPub, "f.txt", 5)});
  auto fs = Make();
  ASSERT_TRUE(fs->AddDirectory("", kPub, std::nullopt).ok());
  const Attributes listed = Walk(*fs, {"f.txt"});
  EXPECT_EQ(listed.size, 5u);
  EXPECT_EQ(fs->Open(listed.node).status().code(), ErrorCode::kStaleHandle)
      << "the kernel must look the name up again";
  ASSERT_EQ(changed_.size(), 1u);
  EXPECT_TRUE(changed_[0].first.is_root());
  const Attributes probed = Walk(*fs, {"f.txt"});
  EXPECT_EQ(probed.size, 18u);
  EXPECT_EQ(ReadAll(*fs, probed), "longer than listed");
}

TEST_F(FilesystemTreeTest, AfterTheTtlAddedFilesAppearAndRemovedOnesKeepTheirOpenHandles) {
  source_.AddFile("http://h/pub/old", "old bytes");
  source_.AddFile("http://h/pub/new", "new");
  lister_.SetEntries(kPub, {ListedFile(kPub, "old", 9)});
  auto fs = Make();
  ASSERT_TRUE(fs->AddDirectory("", kPub, std::nullopt).ok());
  const Attributes old_file = Walk(*fs, {"old"});
  Result<OpenedFile> opened = fs->Open(old_file.node);
  ASSERT_TRUE(opened.ok());
  lister_.SetEntries(kPub, {ListedFile(kPub, "new", 3)});
  EXPECT_EQ(fs->Lookup(Filesystem::Root(), "new").status().code(), ErrorCode::kNotFound)
      << "the listing is trusted for the TTL";
  clock_.AdvanceBy(kTtl);
  EXPECT_EQ(fs->Lookup(Filesystem::Root(), "old").status().code(), ErrorCode::kNotFound);
  ASSERT_EQ(changed_.size(), 1u) << "the kernel is told to forget the removed name";
  EXPECT_TRUE(changed_[0].first.is_root());
  EXPECT_EQ(changed_[0].second, "old");
  EXPECT_EQ(Walk(*fs, {"new"}).size, 3u);
  Result<ReadBuffer> read = opened->reader->Read(0, 9);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->size(), 9u);
  EXPECT_TRUE(fs->GetAttributes(old_file.node).ok()) << "its inode still answers";
}

TEST_F(FilesystemTreeTest, AnOpenedDirectoryReadsOnAsItWasOpenedWhileTheListingChanges) {
  lister_.SetEntries(
      kPub, {ListedFile(kPub, "a", 1), ListedFile(kPub, "b", 1), ListedFile(kPub, "c", 1)});
  auto fs = Make();
  ASSERT_TRUE(fs->AddDirectory("", kPub, std::nullopt).ok());
  Result<OpenedDirectory> opened = fs->OpenDirectory(Filesystem::Root());
  ASSERT_TRUE(opened.ok());
  ASSERT_EQ(opened->size(), 5u);
  EXPECT_EQ(fs->EntryAt(*opened, 2).name, "a");
  // The remote changes, and a second reader sees it, while the first is half way through.
  lister_.SetEntries(kPub, {ListedFile(kPub, "new", 1), ListedFile(kPub, "c", 1)});
  clock_.AdvanceBy(kTtl);
  Result<std::vector<DirectoryEntry>> now = fs->ReadDirectory(Filesystem::Root());
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(Names(*now), (std::vector<std::string>{".", "..", "new", "c"}));
  // The offsets the first reader was given still mean what they meant.
  EXPECT_EQ(fs->EntryAt(*opened, 3).name, "b");
  EXPECT_EQ(fs->EntryAt(*opened, 4).name, "c");
  EXPECT_EQ(fs->EntryAt(*opened, 4).attributes.node, (*now)[3].attributes.node)
      << "an entry both listings have is the same node";
}

TEST_F(FilesystemTreeTest, SubdirectoriesAreListedOnFirstUse) {
  const std::string sub = std::string(kPub) + "sub/";
  lister_.SetEntries(kPub, {ListedDirectory(kPub, "sub")});
  lister_.SetEntries(sub, {ListedFile(sub, "deep", 1)});
  source_.AddFile(sub + "deep", "d");
  auto fs = Make();
  ASSERT_TRUE(fs->AddDirectory("mirror", kPub, std::nullopt).ok());
  const Attributes directory = Walk(*fs, {"mirror", "sub"});
  EXPECT_TRUE(directory.is_directory);
  EXPECT_EQ(lister_.calls(sub), 0u) << "looking a directory up does not list it";
  EXPECT_EQ(ReadAll(*fs, Walk(*fs, {"mirror", "sub", "deep"})), "d");
  EXPECT_EQ(lister_.calls(sub), 1u);
  EXPECT_EQ(lister_.calls(kPub), 1u);
}

TEST_F(FilesystemTreeTest, LookingAtEntriesOfADirectoryThatWasReadProbesTheNextOnesAhead) {
  // Two workers probe ahead a window of four pools' worth: eight entries.
  constexpr int kFiles = 20;
  constexpr int kWindow = 8;
  std::vector<ListedEntry> entries;
  for (int i = 0; i < kFiles; ++i) {
    const std::string name = "f" + std::to_string(i);
    source_.AddFile(kPub + name, name);
    entries.push_back(ListedFile(kPub, name));
  }
  lister_.SetEntries(kPub, entries);
  auto fs = Make(2);
  ASSERT_TRUE(fs->AddDirectory("", kPub, std::nullopt).ok());
  Walk(*fs, {"f0"});
  EXPECT_EQ(source_.probe_count(), 1u) << "no walk seen yet: nothing ahead";
  ASSERT_TRUE(fs->ReadDirectory(Filesystem::Root()).ok());
  Walk(*fs, {"f1"});
  // f1 itself and the window after it.
  ASSERT_TRUE(fakes::Eventually([&] { return source_.probe_count() == 2 + kWindow; }))
      << source_.probe_count();
  // Each look further extends the window by one.
  for (int i = 2; i <= 5; ++i) Walk(*fs, {"f" + std::to_string(i)});
  ASSERT_TRUE(fakes::Eventually([&] { return source_.probe_count() == 6 + kWindow; }))
      << source_.probe_count();
  for (int i = 6; i < kFiles; ++i) Walk(*fs, {"f" + std::to_string(i)});
  ASSERT_TRUE(fakes::Eventually([&] { return source_.probe_count() == kFiles; }));
  EXPECT_EQ(Walk(*fs, {"f19"}).size, 3u);
  EXPECT_EQ(source_.probe_count(), size_t{kFiles}) << "each file probed once";
}

TEST_F(FilesystemTreeTest, AWalkThatStatsADirectorysEntriesStartsOnTheNextDirectory) {
  // ls -lR: the root read, then each subdirectory read and every entry stat'ed.
  lister_.SetEntries(
      kPub, {ListedDirectory(kPub, "a"), ListedDirectory(kPub, "b"), ListedDirectory(kPub, "c")});
  for (const char* name : {"a", "b", "c"}) {
    const std::string directory = std::string(kPub) + name + "/";
    source_.AddFile(directory + "f", "f");
    lister_.SetEntries(directory, {ListedFile(directory, "f")});
  }
  auto fs = Make(2);
  ASSERT_TRUE(fs->AddDirectory("", kPub, std::nullopt).ok());
  ASSERT_TRUE(fs->ReadDirectory(Filesystem::Root()).ok());
  ASSERT_TRUE(fs->ReadDirectory(Walk(*fs, {"a"}).node).ok());
  EXPECT_EQ(source_.probe_count(), 0u);
  Walk(*fs, {"a", "f"});
  // a/f itself, and b/f ahead; c waits until the walk reaches b.
  ASSERT_TRUE(fakes::Eventually([&] { return source_.probe_count() == 2; }))
      << source_.probe_count();
  ASSERT_TRUE(fs->ReadDirectory(Walk(*fs, {"b"}).node).ok());
  Walk(*fs, {"b", "f"});
  ASSERT_TRUE(fakes::Eventually([&] { return source_.probe_count() == 3; }));
  EXPECT_EQ(lister_.calls(std::string(kPub) + "c/"), 1u);
}

TEST_F(FilesystemTreeTest, OpeningASubdirectoryOfADirectoryThatWasReadListsTheNextOnesAhead) {
  std::vector<ListedEntry> entries;
  for (int i = 0; i < 6; ++i) {
    const std::string name = "d" + std::to_string(i);
    entries.push_back(ListedDirectory(kPub, name));
    lister_.SetEntries(std::string(kPub) + name + "/", {});
  }
  lister_.SetEntries(kPub, entries);
  auto fs = Make(2);
  ASSERT_TRUE(fs->AddDirectory("", kPub, std::nullopt).ok());
  ASSERT_TRUE(fs->ReadDirectory(Filesystem::Root()).ok());
  ASSERT_TRUE(fs->OpenDirectory(Walk(*fs, {"d0"}).node).ok());
  ASSERT_TRUE(fakes::Eventually([&] { return lister_.total_calls() == 4; }))
      << "the root, d0, and d1 and d2 ahead";
  ASSERT_TRUE(fs->OpenDirectory(Walk(*fs, {"d1"}).node).ok());
  ASSERT_TRUE(fakes::Eventually([&] { return lister_.total_calls() == 5; }));
  EXPECT_EQ(lister_.calls(std::string(kPub) + "d1/"), 1u) << "listed ahead, not again";
  EXPECT_EQ(lister_.calls(std::string(kPub) + "d3/"), 1u);
}

TEST_F(FilesystemTreeTest, ANewVersionInASubdirectoryIsReportedWithItsDirectory) {
  const std::string url = "http://h/f";
  const RemoteFileInfo info = source_.AddFile(url, "one");
  ReadOptions options;
  options.open_prefetch = false;
  Filesystem fs(source_, clock_, {{"d/f", info}}, kMountTime, options, 0ms);
  std::vector<std::pair<Node, std::string>> changed;
  fs.SetVersionListener([&](const Node& parent, const std::string& name) {
    changed.push_back({parent, name});
  });
  const Attributes directory = Walk(fs, {"d"});
  Walk(fs, {"d", "f"});
  source_.AddFile(url, "three");
  EXPECT_EQ(Walk(fs, {"d", "f"}).size, 5u);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].first, directory.node);
  EXPECT_EQ(changed[0].second, "f");
}

}  // namespace
}  // namespace rangefs
