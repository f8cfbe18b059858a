#include "rangefs/whole_file_fallback.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "fakes/collecting_sink.h"
#include "fakes/memory_range_source.h"
#include "fakes/printers.h"

namespace rangefs {
namespace {

using fakes::CollectingSink;
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

}  // namespace
}  // namespace rangefs
