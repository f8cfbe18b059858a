#include "rangefs/retrying_range_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fakes/collecting_sink.h"
#include "fakes/finishes_within.h"
#include "fakes/hooked_sink.h"
#include "fakes/manual_scheduler.h"
#include "fakes/memory_range_source.h"
#include "fakes/printers.h"

namespace rangefs {
namespace {

using fakes::CollectingSink;
using fakes::FetchCall;
using fakes::FinishesWithin;
using fakes::HookedSink;
using fakes::kDeadlockLimit;
using fakes::ManualScheduler;
using fakes::MemoryRangeSource;
using std::chrono::milliseconds;

constexpr RetryConfig kConfig{.max_retries = 3,
                              .deadline = milliseconds(10'000),
                              .base_delay = milliseconds(100),
                              .max_delay = milliseconds(1'000)};

class RetryingRangeSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { file_ = source_.AddSyntheticFile("https://h/f", 1000, 7); }

  std::shared_ptr<CollectingSink> Start(const ByteRange& range) {
    auto sink = std::make_shared<CollectingSink>();
    retrying_.StartFetch(file_, range, FetchPriority::kDemand, sink);
    return sink;
  }

  MemoryRangeSource source_;
  ManualScheduler scheduler_;
  RetryingRangeSource retrying_{source_, scheduler_, kConfig};
  RemoteFileInfo file_;
};

TEST_F(RetryingRangeSourceTest, SuccessPassesStraightThrough) {
  std::shared_ptr<CollectingSink> sink = Start({0, 999});
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_TRUE(sink->status()->ok());
  EXPECT_TRUE(sink->bytes() == source_.Content(file_.url, {0, 999}));
  EXPECT_EQ(scheduler_.pending(), 0u) << "no timer for a fetch that never failed";
}

TEST_F(RetryingRangeSourceTest, ResumesFromTheFirstMissingByte) {
  // The seeds' example: 1000 bytes, the connection drops after 400.
  source_.FailNextFetches(1, Status(ErrorCode::kTruncated, "dropped"), /*after_bytes=*/400);
  std::shared_ptr<CollectingSink> sink = Start({0, 999});
  EXPECT_FALSE(sink->status().has_value()) << "a retry is due, the fetch is not over";
  scheduler_.AdvanceBy(milliseconds(100));  // the first backoff step at most
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_TRUE(sink->status()->ok()) << sink->status()->ToString();
  EXPECT_TRUE(sink->bytes() == source_.Content(file_.url, {0, 999}));
  EXPECT_EQ(source_.fetch_calls(),
            (std::vector<FetchCall>{{file_.url, {0, 999}, FetchPriority::kDemand},
                                    {file_.url, {400, 999}, FetchPriority::kDemand}}));
  EXPECT_EQ(sink->done_calls(), 1);
}

TEST_F(RetryingRangeSourceTest, ResumesAgainAndAgainAsLongAsRetriesLast) {
  source_.FailNextFetches(3, Status(ErrorCode::kTransport, "reset"), /*after_bytes=*/100);
  std::shared_ptr<CollectingSink> sink = Start({200, 999});
  scheduler_.AdvanceBy(milliseconds(5'000));
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_TRUE(sink->status()->ok()) << sink->status()->ToString();
  EXPECT_TRUE(sink->bytes() == source_.Content(file_.url, {200, 999}));
  std::vector<ByteRange> asked;
  for (const FetchCall& call : source_.fetch_calls()) asked.push_back(call.range);
  EXPECT_EQ(asked, (std::vector<ByteRange>{{200, 999}, {300, 999}, {400, 999}, {500, 999}}));
}

TEST_F(RetryingRangeSourceTest, GivesUpAfterTheLastRetry) {
  source_.FailAllFetches(Status(ErrorCode::kServerBusy, "HTTP 503"));
  std::shared_ptr<CollectingSink> sink = Start({0, 99});
  scheduler_.AdvanceBy(milliseconds(9'000));
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_EQ(sink->status()->code(), ErrorCode::kServerBusy);
  EXPECT_EQ(source_.fetch_count(), 1u + kConfig.max_retries);
  EXPECT_EQ(sink->done_calls(), 1);
}

TEST_F(RetryingRangeSourceTest, WhatCannotPassIsNotRetried) {
  source_.FailNextFetches(1, Status(ErrorCode::kProtocolViolation, "Content-Range lies"));
  std::shared_ptr<CollectingSink> sink = Start({0, 99});
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_EQ(sink->status()->code(), ErrorCode::kProtocolViolation);
  EXPECT_EQ(source_.fetch_count(), 1u);
  EXPECT_EQ(scheduler_.pending(), 0u);
}

TEST_F(RetryingRangeSourceTest, RetryAfterIsWaitedFor) {
  source_.FailNextFetches(
      1, Status(ErrorCode::kServerBusy, "HTTP 503").WithRetryAfter(milliseconds(2'000)));
  std::shared_ptr<CollectingSink> sink = Start({0, 99});
  scheduler_.AdvanceBy(milliseconds(1'999));
  EXPECT_EQ(source_.fetch_count(), 1u) << "not before the server said";
  scheduler_.AdvanceBy(milliseconds(1));
  EXPECT_EQ(source_.fetch_count(), 2u);
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_TRUE(sink->status()->ok());
}

TEST_F(RetryingRangeSourceTest, RetryAfterBeyondTheDeadlineFailsAtOnce) {
  source_.FailNextFetches(
      1, Status(ErrorCode::kServerBusy, "HTTP 503").WithRetryAfter(milliseconds(60'000)));
  std::shared_ptr<CollectingSink> sink = Start({0, 99});
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_EQ(sink->status()->code(), ErrorCode::kServerBusy);
  EXPECT_EQ(source_.fetch_count(), 1u);
}

TEST_F(RetryingRangeSourceTest, DeadlineEndsAFetchWhoseRetryNeverAnswers) {
  source_.FailNextFetches(1, Status(ErrorCode::kTransport, "reset"), /*after_bytes=*/10);
  std::shared_ptr<CollectingSink> sink = Start({0, 99});
  source_.DeferFetches(FetchPriority::kDemand);  // the retry hangs
  scheduler_.AdvanceBy(milliseconds(1'000));
  ASSERT_EQ(source_.pending_count(), 1u);
  EXPECT_FALSE(sink->status().has_value());
  scheduler_.AdvanceBy(milliseconds(9'000));  // the deadline, 10 s after the start
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_EQ(sink->status()->code(), ErrorCode::kTransport);
  EXPECT_NE(sink->status()->message().find("deadline"), std::string::npos);
  // The hung retry answers at last: nothing more reaches the sink.
  source_.CompleteAllPending();
  EXPECT_EQ(sink->done_calls(), 1);
  EXPECT_EQ(sink->bytes().size(), 10u);
}

// ----------------------------------------------------------------------------------- probes
// The mount's probe (Probe) is asked once, so that a bad URL refuses the mount at once; a probe
// of a file the mount serves (Reprobe, at revalidation) is retried like a read.

TEST_F(RetryingRangeSourceTest, TheMountsProbeIsNotRetried) {
  for (const Status& failure :
       {Status(ErrorCode::kTransport, "connection refused"),
        Status(ErrorCode::kServerBusy, "HTTP 503"), Status(ErrorCode::kNotFound, "HTTP 404")}) {
    SCOPED_TRACE(failure.ToString());
    source_.ResetCounters();
    source_.FailNextProbes(1, failure);
    Result<RemoteFileInfo> probed = retrying_.Probe(file_.url);
    ASSERT_FALSE(probed.ok());
    EXPECT_EQ(probed.status().code(), failure.code());
    EXPECT_EQ(source_.probe_count(), 1u);
    EXPECT_EQ(scheduler_.pending(), 0u) << "no backoff";
  }
}

TEST_F(RetryingRangeSourceTest, ReprobeRetriesWhatMayPass) {
  for (const Status& failure :
       {Status(ErrorCode::kServerBusy, "HTTP 503"), Status(ErrorCode::kServerBusy, "HTTP 429"),
        Status(ErrorCode::kTransport, "connection reset")}) {
    SCOPED_TRACE(failure.ToString());
    source_.ResetCounters();
    source_.FailNextProbes(1, failure);
    const auto probed = fakes::WhileTimePasses(scheduler_, milliseconds(10),
                                               [this] { return retrying_.Reprobe(file_.url); });
    ASSERT_TRUE(probed.has_value()) << "Reprobe did not return";
    ASSERT_TRUE(probed->value.ok()) << probed->value.status().ToString();
    EXPECT_TRUE(SameVersion(*probed->value, file_));
    EXPECT_EQ(source_.probe_count(), 2u);
    EXPECT_LE(probed->elapsed, kConfig.base_delay) << "one backoff of the first step at most";
  }
}

TEST_F(RetryingRangeSourceTest, ReprobeRetriesAgainAndAgainAsLongAsRetriesLast) {
  source_.FailNextProbes(3, Status(ErrorCode::kServerBusy, "HTTP 429"));
  const auto probed = fakes::WhileTimePasses(scheduler_, milliseconds(10),
                                             [this] { return retrying_.Reprobe(file_.url); });
  ASSERT_TRUE(probed.has_value());
  ASSERT_TRUE(probed->value.ok()) << probed->value.status().ToString();
  EXPECT_EQ(source_.probe_count(), 4u);
}

TEST_F(RetryingRangeSourceTest, ReprobeWaitsForRetryAfter) {
  source_.FailNextProbes(
      1, Status(ErrorCode::kServerBusy, "HTTP 503").WithRetryAfter(milliseconds(2'000)));
  const auto probed = fakes::WhileTimePasses(scheduler_, milliseconds(250),
                                             [this] { return retrying_.Reprobe(file_.url); });
  ASSERT_TRUE(probed.has_value());
  ASSERT_TRUE(probed->value.ok()) << probed->value.status().ToString();
  EXPECT_EQ(probed->elapsed, milliseconds(2'000)) << "not before the server said, nor later";
  EXPECT_EQ(source_.probe_count(), 2u);
}

TEST_F(RetryingRangeSourceTest, EachTryOfAReprobeGetsWhatTheDeadlineLeaves) {
  // A slow answer near the deadline must not stretch the lookup to twice --timeout.
  source_.FailNextProbes(
      2, Status(ErrorCode::kServerBusy, "HTTP 503").WithRetryAfter(milliseconds(3'000)));
  const auto probed = fakes::WhileTimePasses(scheduler_, milliseconds(250),
                                             [this] { return retrying_.Reprobe(file_.url); });
  ASSERT_TRUE(probed.has_value());
  ASSERT_TRUE(probed->value.ok()) << probed->value.status().ToString();
  EXPECT_EQ(source_.probe_budgets(),
            (std::vector<milliseconds>{kConfig.deadline, kConfig.deadline - milliseconds(3'000),
                                       kConfig.deadline - milliseconds(6'000)}));
}

TEST_F(RetryingRangeSourceTest, ReprobeDoesNotRetryWhatCannotPass) {
  for (const Status& failure : {Status(ErrorCode::kNotFound, "HTTP 404"),
                                Status(ErrorCode::kHttpStatus, "HTTP 401 Unauthorized"),
                                Status(ErrorCode::kProtocolViolation, "no Content-Length")}) {
    SCOPED_TRACE(failure.ToString());
    source_.ResetCounters();
    source_.FailNextProbes(1, failure);
    Result<RemoteFileInfo> probed = retrying_.Reprobe(file_.url);  // returns at once
    ASSERT_FALSE(probed.ok());
    EXPECT_EQ(probed.status().code(), failure.code());
    EXPECT_EQ(source_.probe_count(), 1u);
    EXPECT_EQ(scheduler_.pending(), 0u);
  }
}

TEST_F(RetryingRangeSourceTest, ReprobeGivesUpAfterTheLastRetry) {
  source_.FailNextProbes(MemoryRangeSource::kForever, Status(ErrorCode::kTransport, "refused"));
  const auto probed = fakes::WhileTimePasses(scheduler_, milliseconds(10),
                                             [this] { return retrying_.Reprobe(file_.url); });
  ASSERT_TRUE(probed.has_value());
  ASSERT_FALSE(probed->value.ok());
  EXPECT_EQ(probed->value.status().code(), ErrorCode::kTransport);
  EXPECT_EQ(source_.probe_count(), 1u + kConfig.max_retries);
  EXPECT_LE(probed->elapsed, kConfig.deadline);
}

TEST_F(RetryingRangeSourceTest, ReprobeRetryAfterBeyondTheDeadlineFailsAtOnce) {
  source_.FailNextProbes(
      1, Status(ErrorCode::kServerBusy, "HTTP 503").WithRetryAfter(milliseconds(60'000)));
  Result<RemoteFileInfo> probed = retrying_.Reprobe(file_.url);  // returns at once
  ASSERT_FALSE(probed.ok());
  EXPECT_EQ(probed.status().code(), ErrorCode::kServerBusy);
  EXPECT_EQ(source_.probe_count(), 1u);
  EXPECT_EQ(scheduler_.pending(), 0u);
}

TEST(RetryingRangeSourceProbeTest, ReprobeEndsByTheDeadlineWhateverTheRetriesLeft) {
  // A dead server (every probe refused) with retries to spare: the deadline (--timeout) ends it.
  MemoryRangeSource source;
  ManualScheduler scheduler;
  const RemoteFileInfo file = source.AddSyntheticFile("https://h/f", 1000, 7);
  constexpr RetryConfig kMany{.max_retries = 1000,
                              .deadline = milliseconds(3'000),
                              .base_delay = milliseconds(100),
                              .max_delay = milliseconds(400)};
  RetryingRangeSource retrying(source, scheduler, kMany);
  source.FailNextProbes(MemoryRangeSource::kForever, Status(ErrorCode::kTransport, "refused"));
  const auto probed = fakes::WhileTimePasses(scheduler, milliseconds(50),
                                             [&] { return retrying.Reprobe(file.url); });
  ASSERT_TRUE(probed.has_value());
  ASSERT_FALSE(probed->value.ok());
  EXPECT_EQ(probed->value.status().code(), ErrorCode::kTransport);
  EXPECT_LE(probed->elapsed, kMany.deadline);
  EXPECT_GT(source.probe_count(), 2u);
  EXPECT_LT(source.probe_count(), 1u + kMany.max_retries);
}

TEST(RetryingRangeSourceProbeTest, ReprobeRetriesAreCountedUnderTheFilesUrl) {
  MemoryRangeSource source;
  ManualScheduler scheduler;
  const RemoteFileInfo file = source.AddSyntheticFile("https://h/f", 1000, 7);
  Metrics metrics({file.url});
  RetryingRangeSource retrying(source, scheduler, kConfig, &metrics);
  source.FailNextProbes(2, Status(ErrorCode::kServerBusy, "HTTP 503"));
  const auto probed = fakes::WhileTimePasses(scheduler, milliseconds(10),
                                             [&] { return retrying.Reprobe(file.url); });
  ASSERT_TRUE(probed.has_value());
  ASSERT_TRUE(probed->value.ok());
  EXPECT_EQ(metrics.TrafficOf(file.url).retries, 2u);
}

TEST_F(RetryingRangeSourceTest, ExpiredRedirectTargetIsResolvedAgainOnce) {
  RemoteFileInfo redirected = file_;
  redirected.final_url = "https://cdn/f?signature=old";
  source_.FailNextFetches(1, Status(ErrorCode::kUrlExpired, "HTTP 403 from the redirect target"));
  auto sink = std::make_shared<CollectingSink>();
  retrying_.StartFetch(redirected, {0, 99}, FetchPriority::kDemand, sink);
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_TRUE(sink->status()->ok()) << sink->status()->ToString();
  EXPECT_EQ(source_.probe_count(), 1u);
  EXPECT_TRUE(sink->bytes() == source_.Content(file_.url, {0, 99}));

  // A second expiry in one fetch is not resolved again.
  source_.FailNextFetches(2, Status(ErrorCode::kUrlExpired, "HTTP 403"));
  RemoteFileInfo again = file_;
  again.final_url = "https://cdn/f?signature=older";
  auto second = std::make_shared<CollectingSink>();
  retrying_.StartFetch(again, {0, 99}, FetchPriority::kDemand, second);
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_TRUE(second->status().has_value());
  EXPECT_EQ(second->status()->code(), ErrorCode::kUrlExpired);
  EXPECT_EQ(source_.probe_count(), 2u);
}

TEST_F(RetryingRangeSourceTest, ResolvingAgainToAnotherVersionIsAChangedRemote) {
  RemoteFileInfo redirected = file_;
  redirected.final_url = "https://cdn/f?signature=old";
  source_.AddSyntheticFile("https://h/f", 1000, 8);  // new content behind the same URL
  source_.FailNextFetches(1, Status(ErrorCode::kUrlExpired, "HTTP 410"));
  auto sink = std::make_shared<CollectingSink>();
  retrying_.StartFetch(redirected, {0, 99}, FetchPriority::kDemand, sink);
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_EQ(sink->status()->code(), ErrorCode::kRemoteChanged);
  EXPECT_EQ(source_.fetch_count(), 1u);
}

// A server that answers HEAD itself and redirects every range GET (a signing front end of an
// object store): the fetch is asked again at the target at once, with the same range.
constexpr const char* kTarget = "https://store/f?sig=1";
constexpr const char* kNewTarget = "https://store/f?sig=2";

TEST_F(RetryingRangeSourceTest, RedirectedFetchIsAskedAgainAtTheTargetAtOnce) {
  source_.RedirectFetchesAt(file_.url, kTarget);
  std::shared_ptr<CollectingSink> sink = Start({0, 999});
  EXPECT_FALSE(sink->status().has_value()) << "the follow-up starts from the timer thread";
  scheduler_.AdvanceBy(milliseconds(0));  // no backoff
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_TRUE(sink->status()->ok()) << sink->status()->ToString();
  EXPECT_TRUE(sink->bytes() == source_.Content(file_.url, {0, 999}));
  EXPECT_EQ(source_.fetched_addresses(), (std::vector<std::string>{file_.url, kTarget}));
  EXPECT_EQ(source_.fetched_ranges(), (std::vector<ByteRange>{{0, 999}, {0, 999}}));
  EXPECT_EQ(source_.probe_count(), 0u) << "a redirect is no expiry: nothing to resolve again";
  EXPECT_EQ(sink->done_calls(), 1);
}

TEST_F(RetryingRangeSourceTest, LaterFetchesGoStraightToTheRememberedTarget) {
  source_.RedirectFetchesAt(file_.url, kTarget);
  std::shared_ptr<CollectingSink> first = Start({0, 99});
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_TRUE(first->status().has_value());
  ASSERT_TRUE(first->status()->ok()) << first->status()->ToString();
  source_.ResetCounters();

  std::shared_ptr<CollectingSink> second = Start({100, 199});
  ASSERT_TRUE(second->status().has_value()) << "answered at once: no redirect on the way";
  EXPECT_TRUE(second->status()->ok()) << second->status()->ToString();
  EXPECT_TRUE(second->bytes() == source_.Content(file_.url, {100, 199}));
  std::vector<std::shared_ptr<RangeSink>> sinks;
  std::vector<std::shared_ptr<CollectingSink>> collected;
  for (int i = 0; i < 2; ++i) {
    collected.push_back(std::make_shared<CollectingSink>());
    sinks.push_back(collected.back());
  }
  retrying_.StartMultiFetch(file_, {{200, 299}, {500, 599}}, FetchPriority::kPrefetch, sinks);
  for (const auto& sink : collected) {
    ASSERT_TRUE(sink->status().has_value());
    EXPECT_TRUE(sink->status()->ok()) << sink->status()->ToString();
  }
  EXPECT_EQ(source_.fetched_addresses(), (std::vector<std::string>{kTarget, kTarget, kTarget}));
  EXPECT_EQ(source_.requests(),
            (std::vector<std::vector<ByteRange>>{{{100, 199}}, {{200, 299}, {500, 599}}}))
      << "the multi-range request stays one request";
}

TEST_F(RetryingRangeSourceTest, RedirectedMultiRangeRequestFollowsEachRange) {
  source_.RedirectFetchesAt(file_.url, kTarget);
  std::vector<std::shared_ptr<RangeSink>> sinks;
  std::vector<std::shared_ptr<CollectingSink>> collected;
  for (int i = 0; i < 2; ++i) {
    collected.push_back(std::make_shared<CollectingSink>());
    sinks.push_back(collected.back());
  }
  retrying_.StartMultiFetch(file_, {{0, 99}, {500, 599}}, FetchPriority::kPrefetch, sinks);
  scheduler_.AdvanceBy(milliseconds(0));
  const std::vector<ByteRange> ranges{{0, 99}, {500, 599}};
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(collected[i]->status().has_value());
    EXPECT_TRUE(collected[i]->status()->ok()) << collected[i]->status()->ToString();
    EXPECT_TRUE(collected[i]->bytes() == source_.Content(file_.url, ranges[i]));
  }
  EXPECT_EQ(source_.fetched_addresses(),
            (std::vector<std::string>{file_.url, file_.url, kTarget, kTarget}));
}

TEST_F(RetryingRangeSourceTest, RedirectsAreNotRetries) {
  // Every GET of the URL is redirected; the target fails as often as retries allow: each
  // failure sends the next attempt back through the redirect, which costs no retry.
  Metrics metrics({file_.url});
  RetryingRangeSource retrying(source_, scheduler_, kConfig, &metrics);
  source_.RedirectFetchesAt(file_.url, kTarget);
  source_.FailNextFetches(kConfig.max_retries, Status(ErrorCode::kServerBusy, "HTTP 503"));
  auto sink = std::make_shared<CollectingSink>();
  retrying.StartFetch(file_, {0, 99}, FetchPriority::kDemand, sink);
  scheduler_.AdvanceBy(milliseconds(5'000));
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_TRUE(sink->status()->ok()) << sink->status()->ToString();
  EXPECT_EQ(metrics.TrafficOf(file_.url).retries, static_cast<uint64_t>(kConfig.max_retries));
  std::vector<std::string> expected;
  for (int attempt = 0; attempt <= kConfig.max_retries; ++attempt) {
    expected.push_back(file_.url);
    expected.push_back(kTarget);
  }
  EXPECT_EQ(source_.fetched_addresses(), expected)
      << "a target that failed is forgotten: the retry goes through the redirect again";
}

TEST_F(RetryingRangeSourceTest, TargetThatFailsIsForgottenAndTheRedirectFollowedAnew) {
  source_.RedirectFetchesAt(file_.url, kTarget);
  std::shared_ptr<CollectingSink> first = Start({0, 99});
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_TRUE(first->status().has_value() && first->status()->ok());
  source_.ResetCounters();

  source_.RedirectFetchesAt(file_.url, kNewTarget);  // the front end signs anew
  source_.FailNextFetches(1, Status(ErrorCode::kTransport, "connection refused"));
  std::shared_ptr<CollectingSink> sink = Start({100, 199});
  scheduler_.AdvanceBy(milliseconds(100));  // the first backoff step at most
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_TRUE(sink->status()->ok()) << sink->status()->ToString();
  EXPECT_TRUE(sink->bytes() == source_.Content(file_.url, {100, 199}));
  EXPECT_EQ(source_.fetched_addresses(),
            (std::vector<std::string>{kTarget, file_.url, kNewTarget}));

  source_.ResetCounters();
  std::shared_ptr<CollectingSink> later = Start({200, 299});
  ASSERT_TRUE(later->status().has_value() && later->status()->ok());
  EXPECT_EQ(source_.fetched_addresses(), (std::vector<std::string>{kNewTarget}));
}

TEST_F(RetryingRangeSourceTest, ExpiredTargetResolvesTheUrlAgainAndIsRedirectedAnew) {
  source_.RedirectFetchesAt(file_.url, kTarget);
  std::shared_ptr<CollectingSink> first = Start({0, 99});
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_TRUE(first->status().has_value() && first->status()->ok());
  source_.ResetCounters();

  source_.RedirectFetchesAt(file_.url, kNewTarget);
  source_.FailNextFetches(1, Status(ErrorCode::kUrlExpired, "HTTP 403 from the redirect target"));
  std::shared_ptr<CollectingSink> sink = Start({100, 199});
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_TRUE(sink->status()->ok()) << sink->status()->ToString();
  EXPECT_EQ(source_.probe_count(), 1u) << "the once-per-fetch re-resolution, as before";
  EXPECT_EQ(source_.fetched_addresses(),
            (std::vector<std::string>{kTarget, file_.url, kNewTarget}));
  EXPECT_EQ(source_.fetch_count(), 3u);
}

TEST_F(RetryingRangeSourceTest, RedirectLoopEndsTheFetchAtOnce) {
  source_.RedirectFetchesAt(file_.url, kTarget);
  source_.RedirectFetchesAt(kTarget, file_.url);
  std::shared_ptr<CollectingSink> sink = Start({0, 99});
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_EQ(sink->status()->code(), ErrorCode::kHttpStatus);
  EXPECT_NE(sink->status()->message().find("redirect loop"), std::string::npos)
      << sink->status()->message();
  EXPECT_EQ(source_.fetched_addresses(), (std::vector<std::string>{file_.url, kTarget, file_.url}));
  EXPECT_EQ(sink->done_calls(), 1);

  // A server that redirects to the same URL.
  const RemoteFileInfo self = source_.AddSyntheticFile("https://h/self", 1000, 9);
  source_.RedirectFetchesAt(self.url, self.url);
  auto selfish = std::make_shared<CollectingSink>();
  retrying_.StartFetch(self, {0, 99}, FetchPriority::kDemand, selfish);
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_TRUE(selfish->status().has_value());
  EXPECT_EQ(selfish->status()->code(), ErrorCode::kHttpStatus);
  EXPECT_NE(selfish->status()->message().find("redirect loop"), std::string::npos);
}

TEST_F(RetryingRangeSourceTest, TenRedirectsInARowAreFollowedElevenAreNot) {
  for (const int hops : {kMaxRedirects, kMaxRedirects + 1}) {
    SCOPED_TRACE(hops);
    const std::string url = "https://h/chain" + std::to_string(hops);
    const RemoteFileInfo file = source_.AddSyntheticFile(url, 1000, 11);
    std::string from = url;
    for (int hop = 1; hop <= hops; ++hop) {
      const std::string to =
          "https://store/chain?hop=" + std::to_string(hop) + "&n=" + std::to_string(hops);
      source_.RedirectFetchesAt(from, to);
      from = to;
    }
    source_.ResetCounters();
    auto sink = std::make_shared<CollectingSink>();
    retrying_.StartFetch(file, {0, 99}, FetchPriority::kDemand, sink);
    scheduler_.AdvanceBy(milliseconds(0));
    ASSERT_TRUE(sink->status().has_value());
    if (hops == kMaxRedirects) {
      EXPECT_TRUE(sink->status()->ok()) << sink->status()->ToString();
      EXPECT_EQ(source_.fetch_count(), static_cast<size_t>(hops) + 1);
    } else {
      EXPECT_EQ(sink->status()->code(), ErrorCode::kHttpStatus);
      EXPECT_NE(sink->status()->message().find("more than 10 redirects"), std::string::npos)
          << sink->status()->message();
      EXPECT_EQ(source_.fetch_count(), static_cast<size_t>(kMaxRedirects) + 1);
      // No hop of the refused chain is remembered: the next fetch starts over, and fails alike
      // (a fetch starting at a later hop would be served).
      source_.ResetCounters();
      auto again = std::make_shared<CollectingSink>();
      retrying_.StartFetch(file, {100, 199}, FetchPriority::kDemand, again);
      scheduler_.AdvanceBy(milliseconds(0));
      ASSERT_TRUE(again->status().has_value());
      EXPECT_EQ(again->status()->code(), ErrorCode::kHttpStatus);
      ASSERT_FALSE(source_.fetched_addresses().empty());
      EXPECT_EQ(source_.fetched_addresses().front(), url);
    }
  }
}

TEST_F(RetryingRangeSourceTest, OnlyAChainThatServedTheRangeIsRemembered) {
  source_.RedirectFetchesAt(file_.url, "https://store/hop");
  source_.RedirectFetchesAt("https://store/hop", kTarget);
  source_.FailNextFetches(1, Status(ErrorCode::kProtocolViolation, "Content-Range lies"));
  std::shared_ptr<CollectingSink> failed = Start({0, 99});
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_TRUE(failed->status().has_value());
  EXPECT_EQ(failed->status()->code(), ErrorCode::kProtocolViolation);

  source_.ResetCounters();
  std::shared_ptr<CollectingSink> served = Start({0, 99});
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_TRUE(served->status().has_value());
  EXPECT_TRUE(served->status()->ok()) << served->status()->ToString();
  EXPECT_EQ(source_.fetched_addresses(),
            (std::vector<std::string>{file_.url, "https://store/hop", kTarget}))
      << "the failed chain left nothing behind";

  source_.ResetCounters();
  std::shared_ptr<CollectingSink> later = Start({100, 199});
  ASSERT_TRUE(later->status().has_value() && later->status()->ok());
  EXPECT_EQ(source_.fetched_addresses(), (std::vector<std::string>{kTarget}))
      << "where the chain ended, not a hop on the way";
}

TEST_F(RetryingRangeSourceTest, RedirectChainIsBoundedByTheDeadline) {
  source_.RedirectFetchesAt(file_.url, kTarget);
  source_.DeferFetches(FetchPriority::kDemand);
  std::shared_ptr<CollectingSink> sink = Start({0, 99});
  ASSERT_TRUE(source_.CompletePending(0));  // the redirect
  scheduler_.AdvanceBy(milliseconds(0));
  ASSERT_EQ(source_.pending_count(), 1u) << "the request at the target hangs";
  EXPECT_EQ(source_.fetched_addresses(), (std::vector<std::string>{file_.url, kTarget}));
  scheduler_.AdvanceBy(milliseconds(10'000));
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_EQ(sink->status()->code(), ErrorCode::kTransport);
  EXPECT_NE(sink->status()->message().find("deadline"), std::string::npos);
  source_.CompleteAllPending();
  EXPECT_EQ(sink->done_calls(), 1);
}

// The timer thread's deadline and the engine thread's delivery race. The deadline must not wait
// for the sink (no lock of the retry layer is held while the sink runs), and must still not
// end the body beside a delivery: the OnDone comes once the sink has returned, after the bytes.
TEST_F(RetryingRangeSourceTest, DeadlineDuringADeliveryEndsTheFetchWhenTheSinkReturns) {
  source_.FailNextFetches(1, Status(ErrorCode::kTransport, "reset"), /*after_bytes=*/10);
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> deliveries{0};
  auto sink = std::make_shared<HookedSink>([&] {
    if (++deliveries != 2) return;  // the retry's first bytes
    entered.set_value();
    (void)released.wait_for(kDeadlockLimit);
  });
  retrying_.StartFetch(file_, {0, 99}, FetchPriority::kDemand, sink);
  source_.DeferFetches(FetchPriority::kDemand);
  scheduler_.AdvanceBy(milliseconds(1'000));
  ASSERT_EQ(source_.pending_count(), 1u) << "the retry waits to be answered";

  std::future<bool> delivery =
      std::async(std::launch::async, [&] { return source_.DeliverPending(0, 10); });
  ASSERT_EQ(entered.get_future().wait_for(kDeadlockLimit), std::future_status::ready);
  std::future<void> deadline =
      std::async(std::launch::async, [&] { scheduler_.AdvanceBy(milliseconds(9'000)); });
  const bool deadline_returned = deadline.wait_for(kDeadlockLimit) == std::future_status::ready;
  EXPECT_TRUE(deadline_returned) << "the deadline waited for a sink inside OnData";
  EXPECT_FALSE(sink->collected().status().has_value()) << "OnDone while OnData was running";
  release.set_value();
  deadline.get();
  EXPECT_FALSE(delivery.get()) << "the transfer goes on after the deadline ended the fetch";

  ASSERT_TRUE(sink->collected().status().has_value());
  EXPECT_EQ(sink->collected().status()->code(), ErrorCode::kTransport);
  EXPECT_NE(sink->collected().status()->message().find("deadline"), std::string::npos);
  EXPECT_EQ(sink->collected().done_calls(), 1);
  EXPECT_TRUE(sink->collected().bytes() == source_.Content(file_.url, {0, 19}))
      << "the bytes taken before the end stay, in order";
  EXPECT_EQ(source_.pending_count(), 0u);
}

// A sink may call back into the system from inside OnData: here its callback lets time pass,
// and the deadline falls on the same thread. A lock held across OnData would deadlock.
TEST(RetryingRangeSourceCallbackTest, DeadlineFallingInsideOnDataEndsTheFetchAfterIt) {
  struct World {
    MemoryRangeSource source;
    ManualScheduler scheduler;
    RetryingRangeSource retrying{source, scheduler, kConfig};
  };
  auto world = std::make_shared<World>();  // outlives a deadlocked thread
  const RemoteFileInfo file = world->source.AddSyntheticFile("https://h/f", 1000, 7);
  world->source.FailNextFetches(1, Status(ErrorCode::kTransport, "reset"), /*after_bytes=*/10);
  auto deliveries = std::make_shared<int>(0);  // OnData runs on one thread at a time
  auto sink = std::make_shared<HookedSink>([w = world.get(), deliveries] {
    if (++*deliveries == 2) w->scheduler.AdvanceBy(milliseconds(10'000));
  });
  world->retrying.StartFetch(file, {0, 99}, FetchPriority::kDemand, sink);
  EXPECT_EQ(world->source.fetch_count(), 1u);
  ASSERT_TRUE(FinishesWithin(kDeadlockLimit, [world] {
    world->scheduler.AdvanceBy(milliseconds(1'000));
  })) << "deadlock: a lock of the retry layer is held across OnData";
  ASSERT_TRUE(sink->collected().status().has_value());
  EXPECT_EQ(sink->collected().status()->code(), ErrorCode::kTransport);
  EXPECT_NE(sink->collected().status()->message().find("deadline"), std::string::npos);
  EXPECT_EQ(sink->collected().done_calls(), 1);
  EXPECT_TRUE(sink->collected().bytes() == world->source.Content(file.url, {0, 99}))
      << "the bytes OnData was called with were taken before the end";
  EXPECT_EQ(world->source.fetch_count(), 2u);
}

// A sink's OnDone may start the next fetch through the same source (a reader moving on).
TEST(RetryingRangeSourceCallbackTest, SinkMayStartAFetchFromItsOnDone) {
  struct World {
    MemoryRangeSource source;
    ManualScheduler scheduler;
    RetryingRangeSource retrying{source, scheduler, kConfig};
  };
  auto world = std::make_shared<World>();
  const RemoteFileInfo file = world->source.AddSyntheticFile("https://h/f", 1000, 7);
  world->source.FailNextFetches(1, Status(ErrorCode::kTransport, "reset"), /*after_bytes=*/10);
  auto next = std::make_shared<CollectingSink>();
  auto first = std::make_shared<HookedSink>(nullptr, [w = world.get(), file, next](const Status&) {
    w->retrying.StartFetch(file, {100, 199}, FetchPriority::kDemand, next);
    w->retrying.Expedite(file, {100, 199});
  });
  world->retrying.StartFetch(file, {0, 99}, FetchPriority::kDemand, first);
  ASSERT_TRUE(
      FinishesWithin(kDeadlockLimit, [world] { world->scheduler.AdvanceBy(milliseconds(1'000)); }));
  ASSERT_TRUE(first->collected().status().has_value());
  EXPECT_TRUE(first->collected().status()->ok());
  ASSERT_TRUE(next->status().has_value());
  EXPECT_TRUE(next->status()->ok());
  EXPECT_TRUE(next->bytes() == world->source.Content(file.url, {100, 199}));
}

TEST(RetryingRangeSourceMetricsTest, EachRetryIsCountedUnderTheFilesUrl) {
  MemoryRangeSource source;
  ManualScheduler scheduler;
  const RemoteFileInfo file = source.AddSyntheticFile("https://h/f", 1000, 7);
  Metrics metrics({file.url, "https://h/other"});
  RetryingRangeSource retrying(source, scheduler, kConfig, &metrics);
  source.FailNextFetches(2, Status(ErrorCode::kTransport, "reset"), /*after_bytes=*/100);
  auto sink = std::make_shared<CollectingSink>();
  retrying.StartFetch(file, {0, 999}, FetchPriority::kDemand, sink);
  scheduler.AdvanceBy(milliseconds(5'000));
  ASSERT_TRUE(sink->status().has_value());
  EXPECT_TRUE(sink->status()->ok());
  EXPECT_EQ(metrics.TrafficOf(file.url).retries, 2u);
  EXPECT_EQ(metrics.TrafficOf("https://h/other").retries, 0u);

  // A failure that is not retried counts nothing.
  source.FailNextFetches(1, Status(ErrorCode::kProtocolViolation, "lies"));
  auto lied = std::make_shared<CollectingSink>();
  retrying.StartFetch(file, {0, 99}, FetchPriority::kDemand, lied);
  ASSERT_TRUE(lied->status().has_value());
  EXPECT_EQ(metrics.TrafficOf(file.url).retries, 2u);
}

}  // namespace
}  // namespace rangefs
