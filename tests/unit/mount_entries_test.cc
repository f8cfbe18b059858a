#include "cli/mount_entries.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "fakes/manual_scheduler.h"
#include "fakes/memory_lister.h"
#include "fakes/memory_range_source.h"

namespace rangefs {
namespace {

using fakes::ListedFile;
using fakes::MemoryLister;
using fakes::MemoryRangeSource;

constexpr uint64_t kMaxFullFetch = 1 << 20;

MountSpec Spec(std::string name, std::string url, SpecKind kind, bool at_mount = true) {
  return MountSpec{
      .name = std::move(name), .url = std::move(url), .kind = kind, .probe_at_mount = at_mount};
}

std::vector<std::string> RootNames(Filesystem& fs) {
  std::vector<std::string> names;
  Result<std::vector<DirectoryEntry>> entries = fs.ReadDirectory(Filesystem::Root());
  EXPECT_TRUE(entries.ok()) << entries.status().ToString();
  if (!entries.ok()) return names;
  for (size_t i = 2; i < entries->size(); ++i) names.push_back((*entries)[i].name);
  return names;
}

class MountEntriesTest : public ::testing::Test {
 protected:
  Filesystem MakeFilesystem() {
    return Filesystem(source_, clock_, {}, 0, ReadOptions(), std::chrono::hours(1), nullptr,
                      DirectoryOptions{.lister = &lister_});
  }

  MemoryRangeSource source_;
  MemoryLister lister_;
  fakes::ManualScheduler clock_;
};

TEST_F(MountEntriesTest, OperandsAreProbedOrListedAtMountAndUrlFileEntriesAreNot) {
  source_.AddFile("http://h/a.iso", "aaa");
  lister_.SetEntries("http://h/pub/", {ListedFile("http://h/pub/", "x", 1)});
  std::optional<std::vector<PreparedEntry>> entries =
      PrepareEntries(source_, lister_,
                     {Spec("a.iso", "http://h/a.iso", SpecKind::kFile),
                      Spec("pub", "http://h/pub/", SpecKind::kDirectory),
                      Spec("later/b", "http://h/b", SpecKind::kFile, false)},
                     kMaxFullFetch);
  ASSERT_TRUE(entries.has_value());
  EXPECT_EQ(source_.probe_count(), 1u) << "the URL file's entry waits for its first use";
  EXPECT_EQ(lister_.calls("http://h/pub/"), 1u);
  ASSERT_TRUE((*entries)[0].info.has_value());
  ASSERT_TRUE((*entries)[1].listing.has_value());
  EXPECT_FALSE((*entries)[2].info.has_value());
  Filesystem fs = MakeFilesystem();
  ASSERT_TRUE(AddEntries(fs, std::move(*entries)).ok());
  EXPECT_EQ(RootNames(fs), (std::vector<std::string>{"a.iso", "pub", "later"}));
}

TEST_F(MountEntriesTest, OneFailingOperandRefusesTheMount) {
  source_.AddFile("http://h/a.iso", "aaa");
  std::optional<std::vector<PreparedEntry>> entries =
      PrepareEntries(source_, lister_,
                     {Spec("a.iso", "http://h/a.iso", SpecKind::kFile),
                      Spec("gone", "http://h/gone/", SpecKind::kDirectory)},
                     kMaxFullFetch);
  EXPECT_FALSE(entries.has_value());
}

TEST_F(MountEntriesTest, OneDirectoryOperandAloneIsTheRoot) {
  lister_.SetEntries("http://h/pub/", {ListedFile("http://h/pub/", "x", 1)});
  std::optional<std::vector<PreparedEntry>> entries = PrepareEntries(
      source_, lister_, {Spec("pub", "http://h/pub/", SpecKind::kDirectory)}, kMaxFullFetch);
  ASSERT_TRUE(entries.has_value());
  Filesystem fs = MakeFilesystem();
  ASSERT_TRUE(AddEntries(fs, std::move(*entries)).ok());
  EXPECT_EQ(RootNames(fs), (std::vector<std::string>{"x"}));
  EXPECT_EQ(lister_.calls("http://h/pub/"), 1u) << "the listing made at mount serves the root";
}

TEST_F(MountEntriesTest, AFileUrlWithoutALengthThatListsWithASlashIsADirectory) {
  // nginx answers "http://h/pub" with a 301 to a chunked listing: the probe finds no length.
  source_.FailNextProbes(1, Status(ErrorCode::kProtocolViolation, "no length"));
  lister_.SetEntries("http://h/pub/", {ListedFile("http://h/pub/", "x", 1)});
  std::optional<std::vector<PreparedEntry>> entries = PrepareEntries(
      source_, lister_, {Spec("pub", "http://h/pub", SpecKind::kFile)}, kMaxFullFetch);
  ASSERT_TRUE(entries.has_value());
  EXPECT_EQ((*entries)[0].spec.kind, SpecKind::kDirectory);
  EXPECT_EQ((*entries)[0].spec.url, "http://h/pub/");
}

TEST_F(MountEntriesTest, AFileThatIsNoDirectoryEitherKeepsItsProbesError) {
  source_.FailNextProbes(1, Status(ErrorCode::kProtocolViolation, "no length"));
  std::optional<std::vector<PreparedEntry>> entries =
      PrepareEntries(source_, lister_, {Spec("f", "http://h/f", SpecKind::kFile)}, kMaxFullFetch);
  EXPECT_FALSE(entries.has_value());
  EXPECT_EQ(lister_.calls("http://h/f/"), 1u);
}

}  // namespace
}  // namespace rangefs
