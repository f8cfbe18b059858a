// RangeSource::Fetch: the synchronous helper over StartFetch.
#include "rangefs/range_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

#include "fakes/eventually.h"
#include "fakes/memory_range_source.h"
#include "fakes/printers.h"

namespace rangefs {
namespace {

using fakes::FetchCall;
using fakes::MemoryRangeSource;

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr std::byte kGuard{0xEE};

class RangeSourceFetchTest : public ::testing::Test {
 protected:
  MemoryRangeSource source_;
};

TEST_F(RangeSourceFetchTest, DeliversExactlyTheRangesBytes) {
  const RemoteFileInfo small = source_.AddSyntheticFile("https://h/small", 1000, 1);
  const RemoteFileInfo big = source_.AddSyntheticFile("https://h/big", 5 * kGiB, 2);
  const struct {
    const RemoteFileInfo* file;
    ByteRange range;
  } cases[] = {
      {&small, {0, 0}},
      {&small, {0, 999}},
      {&small, {999, 999}},
      {&small, {123, 456}},
      {&big, {0, 300000}},  // several body pieces
      {&big, {4 * kGiB - 10, 4 * kGiB + 10}},
      {&big, {5 * kGiB - 70000, 5 * kGiB - 1}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << c.file->url << " [" << c.range.first << ", " << c.range.last << "]");
    source_.ResetCounters();
    // A guard byte on each side catches a write outside the buffer.
    std::vector<std::byte> storage(static_cast<size_t>(c.range.length()) + 2, kGuard);
    const std::span<std::byte> out = std::span(storage).subspan(1, storage.size() - 2);
    const Status status = source_.Fetch(*c.file, c.range, out);
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_TRUE(std::vector<std::byte>(out.begin(), out.end()) ==
                source_.Content(c.file->url, c.range));
    EXPECT_EQ(storage.front(), kGuard);
    EXPECT_EQ(storage.back(), kGuard);
    EXPECT_EQ(source_.fetch_calls(),
              (std::vector<FetchCall>{{c.file->url, c.range, FetchPriority::kDemand}}));
  }
}

TEST_F(RangeSourceFetchTest, ErrorsKeepTheirCode) {
  const RemoteFileInfo file = source_.AddSyntheticFile("https://h/f", 1000, 3);
  for (ErrorCode code :
       {ErrorCode::kTransport, ErrorCode::kHttpStatus, ErrorCode::kRangeNotSupported,
        ErrorCode::kRangeNotSatisfiable, ErrorCode::kProtocolViolation}) {
    SCOPED_TRACE(ErrorCodeName(code));
    source_.FailNextFetches(1, Status(code, "scripted"));
    std::vector<std::byte> out(100);
    const Status status = source_.Fetch(file, ByteRange{0, 99}, out);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), code);
  }
}

TEST_F(RangeSourceFetchTest, ErrorAfterPartOfTheBodyKeepsItsCode) {
  const RemoteFileInfo file = source_.AddSyntheticFile("https://h/f", 1000, 4);
  source_.FailNextFetches(1, Status(ErrorCode::kTransport, "reset"), 50);
  std::vector<std::byte> out(100);
  const Status status = source_.Fetch(file, ByteRange{0, 99}, out);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ErrorCode::kTransport);
}

TEST_F(RangeSourceFetchTest, ShortBodyIsAProtocolViolation) {
  const RemoteFileInfo file = source_.AddSyntheticFile("https://h/f", 1000, 5);
  for (uint64_t missing : {uint64_t{1}, uint64_t{99}, uint64_t{100}}) {
    SCOPED_TRACE(::testing::Message() << missing << " bytes missing");
    source_.ShortenNextFetches(1, missing);
    std::vector<std::byte> out(100);
    const Status status = source_.Fetch(file, ByteRange{10, 109}, out);
    ASSERT_FALSE(status.ok()) << "a source that says ok after too few bytes is not believed";
    EXPECT_EQ(status.code(), ErrorCode::kProtocolViolation);
  }
}

TEST_F(RangeSourceFetchTest, LongBodyIsAnErrorAndStaysInTheBuffer) {
  const RemoteFileInfo file = source_.AddSyntheticFile("https://h/f", 1000, 6);
  source_.LengthenNextFetches(1, 7);
  std::vector<std::byte> storage(102, kGuard);
  const Status status = source_.Fetch(file, ByteRange{10, 109}, std::span(storage).subspan(1, 100));
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(storage.front(), kGuard);
  EXPECT_EQ(storage.back(), kGuard);
}

TEST_F(RangeSourceFetchTest, CallerErrorsAreRefusedWithoutARequest) {
  const RemoteFileInfo file = source_.AddSyntheticFile("https://h/f", 1000, 7);
  std::vector<std::byte> out(100);
  const Status wrong_size = source_.Fetch(file, ByteRange{0, 100}, out);
  EXPECT_EQ(wrong_size.code(), ErrorCode::kInternal);
  std::vector<std::byte> two(2);
  const Status past_eof = source_.Fetch(file, ByteRange{999, 1000}, two);
  EXPECT_EQ(past_eof.code(), ErrorCode::kInternal);
  EXPECT_EQ(source_.fetch_count(), 0u);
}

TEST_F(RangeSourceFetchTest, WaitsForASourceThatAnswersOnAnotherThread) {
  source_.DeferAllFetches();
  const RemoteFileInfo file = source_.AddSyntheticFile("https://h/f", 1 << 20, 8);
  const ByteRange range{1000, 200999};
  std::vector<std::byte> out(static_cast<size_t>(range.length()));
  std::atomic<bool> returned{false};
  Status status;
  std::thread reader([&] {
    status = source_.Fetch(file, range, out);
    returned = true;
  });
  ASSERT_TRUE(source_.WaitForPending(1));
  ASSERT_TRUE(source_.DeliverPending(0, 1000));
  EXPECT_FALSE(returned.load()) << "Fetch returned before the body was complete";
  ASSERT_TRUE(source_.CompletePending(0));
  reader.join();
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_TRUE(out == source_.Content("https://h/f", range));
}

TEST_F(RangeSourceFetchTest, SourceThatDropsTheRequestGivesAnError) {
  // A source must call OnDone once, but BlockFetcher guards against one that does not; a
  // blocking Fetch should not hang or throw then either.
  source_.DeferAllFetches();
  const RemoteFileInfo file = source_.AddSyntheticFile("https://h/f", 1000, 9);
  std::vector<std::byte> out(100);
  std::atomic<bool> returned{false};
  std::atomic<bool> threw{false};
  Status status;
  std::thread reader([&] {
    try {
      status = source_.Fetch(file, ByteRange{0, 99}, out);
    } catch (const std::exception&) {
      threw = true;
    }
    returned = true;
  });
  ASSERT_TRUE(source_.WaitForPending(1));
  ASSERT_TRUE(source_.DropPending(0));
  const bool came_back = fakes::Eventually([&] { return returned.load(); });
  EXPECT_TRUE(came_back) << "Fetch still waits for a request its source dropped";
  if (!came_back) {
    // Unblock it so the test ends: the sink is still alive, held by whoever kept it.
    source_.FinishDroppedSinks(Status(ErrorCode::kInternal, "rescued by the test"));
  }
  reader.join();
  EXPECT_FALSE(threw.load()) << "Fetch threw instead of returning an error";
  if (came_back && !threw.load()) {
    EXPECT_FALSE(status.ok());
  }
}

}  // namespace
}  // namespace rangefs
