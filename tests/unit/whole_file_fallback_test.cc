#include "rangefs/whole_file_fallback.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fakes/collecting_sink.h"
#include "fakes/finishes_within.h"
#include "fakes/hooked_sink.h"
#include "fakes/memory_range_source.h"
#include "fakes/printers.h"

namespace rangefs {
namespace {

using fakes::CollectingSink;
using fakes::FinishesWithin;
using fakes::HookedSink;
using fakes::kDeadlockLimit;
using fakes::MemoryRangeSource;

const Status kIgnoresRange(ErrorCode::kRangeNotSupported, "200 OK with the whole file");

std::string TempDir() {
  const char* dir = std::getenv("TMPDIR");
  return dir && *dir ? dir : "/tmp";
}

class WholeFileFallbackTest : public ::testing::Test {
 protected:
  void SetUp() override { file_ = source_.AddSyntheticFile("https://h/f", 1'000'000, 3); }

  std::shared_ptr<CollectingSink> Start(const ByteRange& range) {
    auto sink = std::make_shared<CollectingSink>();
    fallback_.StartFetch(file_, range, FetchPriority::kDemand, sink);
    return sink;
  }
  void ExpectAnswered(const CollectingSink& sink, const ByteRange& range) {
    ASSERT_TRUE(sink.status().has_value());
    ASSERT_TRUE(sink.status()->ok()) << sink.status()->ToString();
    EXPECT_TRUE(sink.bytes() == source_.Content(file_.url, range));
    EXPECT_EQ(sink.done_calls(), 1);
  }

  MemoryRangeSource source_;
  WholeFileFallback fallback_{source_, /*max_bytes=*/2'000'000, TempDir()};
  RemoteFileInfo file_;
};

TEST_F(WholeFileFallbackTest, RangesPassThroughWhileTheServerHonoursThem) {
  std::shared_ptr<CollectingSink> sink = Start({100, 199});
  ExpectAnswered(*sink, {100, 199});
  EXPECT_EQ(source_.fetched_ranges(), (std::vector<ByteRange>{{100, 199}}));
}

TEST_F(WholeFileFallbackTest, ServerIgnoringRangeIsDownloadedOnceAndServesEveryRange) {
  source_.FailNextFetches(1, kIgnoresRange);
  std::shared_ptr<CollectingSink> first = Start({100, 199});
  ExpectAnswered(*first, {100, 199});
  std::shared_ptr<CollectingSink> second = Start({500'000, 999'999});
  ExpectAnswered(*second, {500'000, 999'999});
  EXPECT_EQ(source_.fetched_ranges(), (std::vector<ByteRange>{{100, 199}, {0, 999'999}}))
      << "one refused range request, then one download of the whole file";
}

TEST_F(WholeFileFallbackTest, ProbedWithoutRangesGoesStraightToTheDownload) {
  file_.ranges_supported = false;
  std::shared_ptr<CollectingSink> sink = Start({10, 20});
  ExpectAnswered(*sink, {10, 20});
  EXPECT_EQ(source_.fetched_ranges(), (std::vector<ByteRange>{{0, 999'999}}));
}

TEST_F(WholeFileFallbackTest, ReadsAreAnsweredAsTheDownloadPassesThem) {
  file_.ranges_supported = false;
  source_.DeferFetches(FetchPriority::kDemand);
  std::shared_ptr<CollectingSink> early = Start({0, 9'999});
  std::shared_ptr<CollectingSink> late = Start({900'000, 900'099});
  ASSERT_EQ(source_.pending_count(), 1u) << "both wait for one download";
  ASSERT_TRUE(source_.DeliverPending(0, 20'000));
  ExpectAnswered(*early, {0, 9'999});
  EXPECT_FALSE(late->status().has_value());
  ASSERT_TRUE(source_.CompletePending(0));
  ExpectAnswered(*late, {900'000, 900'099});
}

TEST_F(WholeFileFallbackTest, FailedDownloadFailsItsWaitersAndTheNextRequestStartsOver) {
  file_.ranges_supported = false;
  source_.FailNextFetches(1, Status(ErrorCode::kTransport, "reset"), /*after_bytes=*/50'000);
  std::shared_ptr<CollectingSink> waiter = Start({100'000, 100'099});
  ASSERT_TRUE(waiter->status().has_value());
  EXPECT_EQ(waiter->status()->code(), ErrorCode::kTransport);
  std::shared_ptr<CollectingSink> again = Start({100'000, 100'099});
  ExpectAnswered(*again, {100'000, 100'099});
  EXPECT_EQ(source_.fetch_count(), 2u);
}

TEST_F(WholeFileFallbackTest, FileAboveTheLimitIsRefused) {
  const RemoteFileInfo big = source_.AddSyntheticFile("https://h/big", 3'000'000, 4);
  source_.FailNextFetches(1, kIgnoresRange);
  auto sink = std::make_shared<CollectingSink>();
  fallback_.StartFetch(big, {0, 99}, FetchPriority::kDemand, sink);
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_EQ(sink->status()->code(), ErrorCode::kRangeNotSupported);
  EXPECT_NE(sink->status()->message().find("--max-full-fetch"), std::string::npos);
  EXPECT_EQ(source_.fetch_count(), 1u) << "nothing downloaded";
}

TEST_F(WholeFileFallbackTest, NewVersionGetsANewDownload) {
  file_.ranges_supported = false;
  ExpectAnswered(*Start({0, 99}), {0, 99});
  file_ = source_.AddSyntheticFile("https://h/f", 1'000'000, 5);
  file_.ranges_supported = false;
  ExpectAnswered(*Start({0, 99}), {0, 99});
  EXPECT_EQ(source_.fetch_count(), 2u);
}

TEST_F(WholeFileFallbackTest, ADownloadOfAnOldVersionNeverAnswersForANewOne) {
  file_.ranges_supported = false;
  source_.DeferFetches(FetchPriority::kDemand);
  const RemoteFileInfo old_version = file_;
  const std::vector<std::byte> old_bytes = source_.Content(file_.url, {0, 99});
  std::shared_ptr<CollectingSink> old_reader = Start({0, 99});
  ASSERT_EQ(source_.pending_count(), 1u);

  file_ = source_.AddSyntheticFile("https://h/f", 1'000'000, 5);  // same URL, same size
  file_.ranges_supported = false;
  std::shared_ptr<CollectingSink> new_reader = Start({0, 99});
  ASSERT_EQ(source_.pending_count(), 2u) << "the new version gets a download of its own";
  ASSERT_TRUE(source_.CompletePending(1));
  ExpectAnswered(*new_reader, {0, 99});
  ASSERT_TRUE(source_.CompletePending(0));
  ASSERT_TRUE(old_reader->status().has_value());
  ASSERT_TRUE(old_reader->status()->ok()) << old_reader->status()->ToString();
  EXPECT_TRUE(old_reader->bytes() == old_bytes) << "its own download answers the old version";
  EXPECT_FALSE(old_bytes == source_.Content(file_.url, {0, 99}));
}

// Sinks may call back into the fallback from their callbacks: no lock of it is held while a
// sink runs. Each test owns its objects by shared_ptr, so that a deadlocked thread that
// FinishesWithin leaves behind still finds them.
struct CallbackWorld {
  explicit CallbackWorld(std::string temp_dir) : fallback(source, 2'000'000, std::move(temp_dir)) {
    file = source.AddSyntheticFile("https://h/f", 1'000'000, 3);
    file.ranges_supported = false;
  }
  MemoryRangeSource source;
  WholeFileFallback fallback;
  RemoteFileInfo file;
};

TEST(WholeFileFallbackCallbackTest, SinkMayCallBackWhenNoTemporaryFileCanBeMade) {
  auto world = std::make_shared<CallbackWorld>(TempDir() + "/rangefs-no-such-directory");
  auto second = std::make_shared<CollectingSink>();
  auto first = std::make_shared<HookedSink>(nullptr, [w = world.get(), second](const Status&) {
    w->fallback.StartFetch(w->file, {0, 9}, FetchPriority::kDemand, second);
  });
  ASSERT_TRUE(FinishesWithin(kDeadlockLimit, [world, first] {
    world->fallback.StartFetch(world->file, {0, 99}, FetchPriority::kDemand, first);
  })) << "deadlock: the fallback's lock is held across OnDone";
  for (const CollectingSink* sink :
       {&first->collected(), static_cast<const CollectingSink*>(second.get())}) {
    ASSERT_TRUE(sink->status().has_value());
    EXPECT_EQ(sink->status()->code(), ErrorCode::kInternal);
    EXPECT_NE(sink->status()->message().find("temporary file"), std::string::npos);
    EXPECT_EQ(sink->done_calls(), 1);
  }
  EXPECT_EQ(world->source.fetch_count(), 0u);
}

TEST(WholeFileFallbackCallbackTest, SinksMayCallBackWhileTheDownloadRuns) {
  auto world = std::make_shared<CallbackWorld>(TempDir());
  world->source.DeferFetches(FetchPriority::kDemand);
  auto late = std::make_shared<CollectingSink>();
  // The early reader's OnData asks to hurry, its OnDone asks for a later range: both while the
  // download's own callback answers it.
  auto early = std::make_shared<HookedSink>(
      [w = world.get()] {
        w->fallback.Expedite(w->file, {0, 9'999});
      },
      [w = world.get(), late](const Status&) {
        w->fallback.StartFetch(w->file, {900'000, 900'099}, FetchPriority::kDemand, late);
      });
  ASSERT_TRUE(FinishesWithin(kDeadlockLimit, [world, early] {
    world->fallback.StartFetch(world->file, {0, 9'999}, FetchPriority::kDemand, early);
    ASSERT_EQ(world->source.pending_count(), 1u);
    ASSERT_TRUE(world->source.DeliverPending(0, 20'000));
    ASSERT_TRUE(world->source.CompletePending(0));
  })) << "deadlock: a lock is held across a sink's callback";
  ASSERT_TRUE(early->collected().status().has_value());
  EXPECT_TRUE(early->collected().status()->ok());
  EXPECT_TRUE(early->collected().bytes() == world->source.Content(world->file.url, {0, 9'999}));
  ASSERT_TRUE(late->status().has_value());
  EXPECT_TRUE(late->status()->ok());
  EXPECT_TRUE(late->bytes() == world->source.Content(world->file.url, {900'000, 900'099}));
  EXPECT_EQ(world->source.fetch_count(), 1u) << "one download answered both";
  EXPECT_FALSE(world->source.expedite_calls().empty());
}

}  // namespace
}  // namespace rangefs
