// ForwardingRangeSource: every RangeSource call reaches the inner source unchanged.
#include "rangefs/forwarding_range_source.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "fakes/collecting_sink.h"
#include "fakes/memory_range_source.h"
#include "fakes/printers.h"

namespace rangefs {
namespace {

using fakes::CollectingSink;
using fakes::FetchCall;
using fakes::MemoryRangeSource;

class ForwardingRangeSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { file_ = inner_.AddSyntheticFile("https://h/f", 1000, 11); }

  MemoryRangeSource inner_;
  ForwardingRangeSource forwarding_{inner_};
  RemoteFileInfo file_;
};

TEST_F(ForwardingRangeSourceTest, ProbeIsForwarded) {
  Result<RemoteFileInfo> probed = forwarding_.Probe(file_.url);
  ASSERT_TRUE(probed.ok()) << probed.status().ToString();
  EXPECT_TRUE(SameVersion(*probed, file_));
  EXPECT_EQ(probed->final_url, file_.final_url);
  EXPECT_EQ(inner_.probe_count(), 1u);

  inner_.FailNextProbes(1, Status(ErrorCode::kTransport, "reset"));
  Result<RemoteFileInfo> failed = forwarding_.Probe(file_.url);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kTransport);
  EXPECT_EQ(inner_.probe_count(), 2u);
}

TEST_F(ForwardingRangeSourceTest, StartFetchIsForwardedWithItsPriorityAndSink) {
  auto sink = std::make_shared<CollectingSink>();
  forwarding_.StartFetch(file_, {100, 199}, FetchPriority::kPrefetch, sink);
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_TRUE(sink->status()->ok()) << sink->status()->ToString();
  EXPECT_TRUE(sink->bytes() == inner_.Content(file_.url, {100, 199}));
  EXPECT_EQ(inner_.fetch_calls(),
            (std::vector<FetchCall>{{file_.url, {100, 199}, FetchPriority::kPrefetch}}));

  // Errors come back as the inner source reported them.
  inner_.FailNextFetches(1, Status(ErrorCode::kServerBusy, "HTTP 503"), /*after_bytes=*/10);
  auto failed = std::make_shared<CollectingSink>();
  forwarding_.StartFetch(file_, {0, 99}, FetchPriority::kDemand, failed);
  ASSERT_TRUE(failed->status().has_value());
  EXPECT_EQ(failed->status()->code(), ErrorCode::kServerBusy);
  EXPECT_EQ(failed->bytes().size(), 10u);
}

TEST_F(ForwardingRangeSourceTest, StartMultiFetchIsForwardedAsOneRequest) {
  const std::vector<ByteRange> ranges{{0, 9}, {500, 599}, {990, 999}};
  std::vector<std::shared_ptr<CollectingSink>> sinks;
  std::vector<std::shared_ptr<RangeSink>> given;
  for (size_t i = 0; i < ranges.size(); ++i) {
    sinks.push_back(std::make_shared<CollectingSink>());
    given.push_back(sinks.back());
  }
  forwarding_.StartMultiFetch(file_, ranges, FetchPriority::kDemand, given);
  // RangeSource's default would have made one request per range through StartFetch.
  EXPECT_EQ(inner_.requests(), (std::vector<std::vector<ByteRange>>{ranges}));
  for (size_t i = 0; i < ranges.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(sinks[i]->status().has_value());
    EXPECT_TRUE(sinks[i]->status()->ok()) << sinks[i]->status()->ToString();
    EXPECT_TRUE(sinks[i]->bytes() == inner_.Content(file_.url, ranges[i]));
  }
}

TEST_F(ForwardingRangeSourceTest, ExpediteIsForwarded) {
  forwarding_.Expedite(file_, {200, 299});
  EXPECT_EQ(inner_.expedite_calls(),
            (std::vector<FetchCall>{{file_.url, {200, 299}, FetchPriority::kDemand}}));
}

// A decorator that overrides one call still forwards the others to the inner source, not to
// its own override.
class CountingFetches final : public ForwardingRangeSource {
 public:
  using ForwardingRangeSource::ForwardingRangeSource;
  void StartFetch(const RemoteFileInfo& file, const ByteRange& range, FetchPriority priority,
                  std::shared_ptr<RangeSink> sink) override {
    ++fetches;
    inner().StartFetch(file, range, priority, std::move(sink));
  }
  int fetches = 0;
};

TEST_F(ForwardingRangeSourceTest, ADecoratorOverridesOnlyWhatItChanges) {
  CountingFetches counting(inner_);
  auto one = std::make_shared<CollectingSink>();
  counting.StartFetch(file_, {0, 9}, FetchPriority::kDemand, one);
  auto two = std::make_shared<CollectingSink>();
  counting.StartMultiFetch(file_, {{10, 19}}, FetchPriority::kDemand, {two});
  counting.Expedite(file_, {10, 19});
  EXPECT_EQ(counting.fetches, 1);
  EXPECT_EQ(inner_.requests(), (std::vector<std::vector<ByteRange>>{{{0, 9}}, {{10, 19}}}));
  EXPECT_EQ(inner_.expedite_calls().size(), 1u);
  ASSERT_TRUE(two->status().has_value());
  EXPECT_TRUE(two->status()->ok());
}

}  // namespace
}  // namespace rangefs
