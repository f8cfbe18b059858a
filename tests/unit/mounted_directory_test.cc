#include "rangefs/mounted_directory.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "fakes/eventually.h"
#include "fakes/manual_scheduler.h"
#include "fakes/memory_lister.h"

namespace rangefs {
namespace {

using fakes::ListedDirectory;
using fakes::ListedFile;
using fakes::MemoryLister;
using namespace std::chrono_literals;

constexpr char kUrl[] = "http://h/pub/";
constexpr auto kTtl = 60s;
constexpr auto kRetryAfter = 10s;

std::vector<std::string> Names(const DirectorySnapshot& snapshot) {
  std::vector<std::string> names;
  for (const auto& child : snapshot.children()) names.push_back(child->entry.name);
  return names;
}

class MountedDirectoryTest : public ::testing::Test {
 protected:
  Result<DirectorySnapshotPtr> Children(MountedDirectory& directory,
                                        MountedDirectory::Refresh* refresh = nullptr) {
    return directory.Children(kTtl, kRetryAfter, clock_, list_, refresh);
  }
  std::shared_ptr<MountedDirectory> Remote() {
    return std::make_shared<MountedDirectory>("pub", std::weak_ptr<MountedDirectory>(), kUrl,
                                              std::nullopt, clock_.Now());
  }

  fakes::ManualScheduler clock_;
  MemoryLister lister_;
  MountedDirectory::Lister list_ = [this](const std::string& url) { return lister_.List(url); };
};

TEST_F(MountedDirectoryTest, AFixedDirectoryHoldsWhatWasAddedOnceEach) {
  MountedDirectory directory("", {});
  ASSERT_TRUE(directory.Add(ListedFile(kUrl, "a")).ok());
  ASSERT_TRUE(directory.Add(ListedDirectory(kUrl, "b")).ok());
  EXPECT_EQ(directory.Add(ListedFile(kUrl, "a", 5)).code(), ErrorCode::kInvalidArgument);
  Result<DirectorySnapshotPtr> children = Children(directory);
  ASSERT_TRUE(children.ok());
  EXPECT_EQ(Names(**children), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE((*children)->Find("a")->entry.size.has_value()) << "the first of a name stays";
  // A snapshot taken before an addition does not change under its reader.
  ASSERT_TRUE(directory.Add(ListedFile(kUrl, "c")).ok());
  EXPECT_EQ(Names(**children), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Names(*directory.KnownChildren()), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(lister_.total_calls(), 0u);
}

TEST_F(MountedDirectoryTest, ARemoteDirectoryIsListedOnFirstUseAndTrustedForTheTtl) {
  lister_.SetEntries(kUrl, {ListedFile(kUrl, "a", 1), ListedDirectory(kUrl, "sub")});
  const auto directory = Remote();
  EXPECT_FALSE(directory->listed());
  EXPECT_EQ(directory->Add(ListedFile(kUrl, "x")).code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(Children(*directory).ok());
  clock_.AdvanceBy(kTtl - 1ms);
  Result<DirectorySnapshotPtr> children = Children(*directory);
  ASSERT_TRUE(children.ok());
  EXPECT_EQ(Names(**children), (std::vector<std::string>{"a", "sub"}));
  EXPECT_EQ(lister_.calls(kUrl), 1u);
  clock_.AdvanceBy(1ms);
  ASSERT_TRUE(Children(*directory).ok());
  EXPECT_EQ(lister_.calls(kUrl), 2u) << "listed again once the listing is as old as the TTL";
}

TEST_F(MountedDirectoryTest, ARefreshAddsAndRemovesAndKeepsWhatItLeavesAlone) {
  lister_.SetEntries(kUrl, {ListedFile(kUrl, "same", 1), ListedFile(kUrl, "gone", 2),
                            ListedFile(kUrl, "resized", 3)});
  const auto directory = Remote();
  Result<DirectorySnapshotPtr> before = Children(*directory);
  ASSERT_TRUE(before.ok());
  lister_.SetEntries(kUrl, {ListedFile(kUrl, "same", 1), ListedFile(kUrl, "resized", 30),
                            ListedFile(kUrl, "new", 4)});
  clock_.AdvanceBy(kTtl);
  MountedDirectory::Refresh refresh;
  Result<DirectorySnapshotPtr> after = Children(*directory, &refresh);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(refresh.fetched);
  EXPECT_EQ(refresh.added, 1u);
  EXPECT_EQ(refresh.removed, 1u);
  EXPECT_EQ(refresh.stale_names, (std::vector<std::string>{"resized", "gone"}));
  EXPECT_EQ(Names(**after), (std::vector<std::string>{"same", "resized", "new"}));
  EXPECT_EQ((*after)->Find("same"), (*before)->Find("same")) << "an unchanged child is kept";
  EXPECT_NE((*after)->Find("resized"), (*before)->Find("resized"));
  EXPECT_EQ((*after)->Find("resized")->entry.size, 30u);
  EXPECT_EQ(Names(**before), (std::vector<std::string>{"same", "gone", "resized"}))
      << "a reader's snapshot stays as it was";
}

TEST_F(MountedDirectoryTest, AFailedRefreshKeepsTheLastGoodListingAndWaitsBeforeTryingAgain) {
  lister_.SetEntries(kUrl, {ListedFile(kUrl, "a", 1)});
  const auto directory = Remote();
  ASSERT_TRUE(Children(*directory).ok());
  lister_.Set(kUrl, Status(ErrorCode::kServerBusy, "HTTP 500"));
  clock_.AdvanceBy(kTtl);
  MountedDirectory::Refresh refresh;
  Result<DirectorySnapshotPtr> kept = Children(*directory, &refresh);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(refresh.status.code(), ErrorCode::kServerBusy);
  EXPECT_EQ(Names(**kept), (std::vector<std::string>{"a"}));
  clock_.AdvanceBy(kRetryAfter - 1ms);
  ASSERT_TRUE(Children(*directory).ok());
  EXPECT_EQ(lister_.calls(kUrl), 2u) << "no new try before retry_after";
  clock_.AdvanceBy(1ms);
  ASSERT_TRUE(Children(*directory).ok());
  EXPECT_EQ(lister_.calls(kUrl), 3u);
}

TEST_F(MountedDirectoryTest, ADirectoryNeverListedFailsWithTheListingsError) {
  const auto directory = Remote();
  Result<DirectorySnapshotPtr> children = Children(*directory);
  EXPECT_EQ(children.status().code(), ErrorCode::kNotFound);
  lister_.SetEntries(kUrl, {ListedFile(kUrl, "a", 1)});
  EXPECT_TRUE(Children(*directory).ok()) << "the next use tries again";
}

TEST_F(MountedDirectoryTest, CallersThatNeedAListingAtOnceShareOne) {
  lister_.SetEntries(kUrl, {ListedFile(kUrl, "a", 1)});
  const auto directory = Remote();
  lister_.Hold();
  auto first = std::async(std::launch::async, [&] { return Children(*directory).ok(); });
  ASSERT_TRUE(fakes::Eventually([&] { return lister_.started() == 1; }));
  auto second = std::async(std::launch::async, [&] { return Children(*directory).ok(); });
  lister_.Release();
  EXPECT_TRUE(first.get());
  EXPECT_TRUE(second.get());
  EXPECT_EQ(lister_.calls(kUrl), 1u);
}

TEST_F(MountedDirectoryTest, EachChildIsClaimedAheadOnce) {
  MountedDirectory directory("", {});
  using Ahead = MountedDirectory::Ahead;
  EXPECT_EQ(directory.ClaimAhead(Ahead::kProbe, 0, 4), (std::pair<size_t, size_t>{1, 5}));
  EXPECT_EQ(directory.ClaimAhead(Ahead::kProbe, 1, 4), (std::pair<size_t, size_t>{5, 6}));
  EXPECT_EQ(directory.ClaimAhead(Ahead::kProbe, 2, 2), (std::pair<size_t, size_t>{5, 5}));
  EXPECT_EQ(directory.ClaimAhead(Ahead::kList, 9, 2), (std::pair<size_t, size_t>{10, 12}))
      << "probing and listing are claimed apart";
}

}  // namespace
}  // namespace rangefs
