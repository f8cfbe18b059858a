#include "rangefs/mounted_file.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "fakes/manual_scheduler.h"

namespace rangefs {
namespace {

using namespace std::chrono_literals;

// Generous: only reached when something hangs, which is then the failure.
constexpr auto kHang = 10s;

RemoteFileInfo Info(std::string etag) {
  RemoteFileInfo info;
  info.url = "https://h/f";
  info.final_url = info.url;
  info.size = 100;
  info.etag = std::move(etag);
  return info;
}

class MountedFileTest : public ::testing::Test {
 public:
  MountedFileTest()
      : file_("f", Info("\"a\""), clock_.Now(), 4096, ReadaheadConfig(),
              [this](MountedFile&, const FileVersion&, const Status&) { ++reports_; }) {}

  std::optional<MountedFile::Probed> RevalidateNow(const MountedFile::Probe& probe,
                                                   const FileVersion* suspect = nullptr) {
    return file_.Revalidate(clock_.Now(), suspect, 10s, clock_, probe);
  }

  // Until `callers` callers wait for the probe in flight; fails the test after kHang.
  void WaitUntilWaiting(size_t callers) {
    const auto give_up = std::chrono::steady_clock::now() + kHang;
    while (file_.callers_waiting() < callers) {
      ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "nobody waits for the probe";
      std::this_thread::yield();
    }
  }

  // Defined before file_, which is made from its time.
  fakes::ManualScheduler clock_;

 protected:
  MountedFile file_;
  int reports_ = 0;
};

TEST_F(MountedFileTest, AConfirmationIsTrustedForMaxAgeByTheClock) {
  int probes = 0;
  const auto probe = [&](const RemoteFileInfo& current) -> Result<RemoteFileInfo> {
    ++probes;
    return current;
  };
  EXPECT_FALSE(RevalidateNow(probe).has_value());
  clock_.AdvanceBy(9999ms);
  EXPECT_FALSE(RevalidateNow(probe).has_value());
  EXPECT_EQ(probes, 0);
  clock_.AdvanceBy(1ms);
  const std::optional<MountedFile::Probed> probed = RevalidateNow(probe);
  ASSERT_TRUE(probed.has_value());
  EXPECT_TRUE(probed->status.ok());
  EXPECT_EQ(probed->replaced, nullptr);
  EXPECT_EQ(probes, 1);
  EXPECT_EQ(file_.confirmed_at(), clock_.Now());
  EXPECT_FALSE(RevalidateNow(probe).has_value());
  EXPECT_EQ(probes, 1);
}

TEST_F(MountedFileTest, AProbeThatShowsAnotherVersionMakesItCurrent) {
  clock_.AdvanceBy(10s);
  const FileVersionPtr before = file_.current();
  const std::optional<MountedFile::Probed> probed =
      RevalidateNow([](const RemoteFileInfo&) -> Result<RemoteFileInfo> { return Info("\"b\""); });
  ASSERT_TRUE(probed.has_value());
  EXPECT_EQ(probed->before, before);
  EXPECT_EQ(probed->replaced, before);
  EXPECT_EQ(file_.current()->generation, 1u);
  EXPECT_EQ(file_.current()->info.etag, "\"b\"");
  EXPECT_FALSE(*file_.current()->key == *before->key);
  EXPECT_FALSE(file_.IsCurrent(*before));
  EXPECT_EQ(file_.Find(0), before) << "still held here";
}

TEST_F(MountedFileTest, ASuspectIsProbedOnceAndAReplacedOneNotAtAll) {
  int probes = 0;
  const auto probe = [&](const RemoteFileInfo&) -> Result<RemoteFileInfo> {
    ++probes;
    return Info("\"b\"");
  };
  const FileVersionPtr suspect = file_.current();
  // Fresh as the confirmation is, a reader's evidence is checked.
  ASSERT_TRUE(RevalidateNow(probe, suspect.get()).has_value());
  EXPECT_EQ(probes, 1);
  clock_.AdvanceBy(1ms);
  EXPECT_FALSE(RevalidateNow(probe, suspect.get()).has_value()) << "already replaced";
  EXPECT_EQ(probes, 1);
}

TEST_F(MountedFileTest, OnlyACurrentVersionsReportReachesTheHandler) {
  const FileVersionPtr first = file_.current();
  file_.ReportChanged(*first, Status(ErrorCode::kRemoteChanged, "etag differs"));
  EXPECT_EQ(reports_, 1);
  clock_.AdvanceBy(10s);
  ASSERT_TRUE(
      RevalidateNow([](const RemoteFileInfo&) -> Result<RemoteFileInfo> { return Info("\"b\""); }));
  file_.ReportChanged(*first, Status(ErrorCode::kRemoteChanged, "etag differs"));
  EXPECT_EQ(reports_, 1) << "a replaced version's readers fail without asking anyone";
}

TEST_F(MountedFileTest, TheProbeRunsWithNoLockHeld) {
  // A probe that calls back into the file (as a slow one lets every other caller do meanwhile)
  // would deadlock if the file's lock were held across it.
  clock_.AdvanceBy(10s);
  auto revalidated = std::async(std::launch::async, [&] {
    return RevalidateNow([&](const RemoteFileInfo& current) -> Result<RemoteFileInfo> {
      (void)file_.current();
      (void)file_.IsCurrent(*file_.current());
      (void)file_.confirmed_at();
      (void)file_.Find(0);
      return current;
    });
  });
  ASSERT_EQ(revalidated.wait_for(kHang), std::future_status::ready) << "deadlocked";
  EXPECT_TRUE(revalidated.get().has_value());
}

class BlockedProbe {
 public:
  // The probe: says it started, then waits until released, then answers `answer`.
  MountedFile::Probe Probe(Result<RemoteFileInfo> answer) {
    return [this, answer](const RemoteFileInfo&) -> Result<RemoteFileInfo> {
      ++calls_;
      started_.set_value();
      release_.wait_for(kHang);
      return answer;
    };
  }
  // Another caller's probe: counted, never blocks.
  MountedFile::Probe Counted() {
    return [this](const RemoteFileInfo& current) -> Result<RemoteFileInfo> {
      ++calls_;
      return current;
    };
  }
  void WaitStarted() { ASSERT_EQ(started_future_.wait_for(kHang), std::future_status::ready); }
  void Release() { release_promise_.set_value(); }
  int calls() const { return calls_; }

 private:
  std::atomic<int> calls_ = 0;
  std::promise<void> started_;
  std::future<void> started_future_ = started_.get_future();
  std::promise<void> release_promise_;
  std::shared_future<void> release_ = release_promise_.get_future().share();
};

// Two callers at once: the first one's probe blocks until the second waits for it, then
// answers `answer`. What each call returned.
struct TwoCallers {
  std::optional<MountedFile::Probed> first;
  std::optional<MountedFile::Probed> second;
};

TwoCallers RevalidateTwiceAtOnce(MountedFileTest& test, BlockedProbe& blocked,
                                 Result<RemoteFileInfo> answer) {
  auto first = std::async(std::launch::async,
                          [&] { return test.RevalidateNow(blocked.Probe(std::move(answer))); });
  blocked.WaitStarted();
  auto second =
      std::async(std::launch::async, [&] { return test.RevalidateNow(blocked.Counted()); });
  // The second caller waits for the first one's answer rather than asking again.
  test.WaitUntilWaiting(1);
  blocked.Release();
  EXPECT_EQ(first.wait_for(kHang), std::future_status::ready);
  EXPECT_EQ(second.wait_for(kHang), std::future_status::ready);
  return {first.get(), second.get()};
}

TEST_F(MountedFileTest, ConcurrentCallersShareOneProbe) {
  clock_.AdvanceBy(10s);
  BlockedProbe blocked;
  const TwoCallers calls = RevalidateTwiceAtOnce(*this, blocked, Info("\"b\""));
  ASSERT_TRUE(calls.first.has_value());
  EXPECT_NE(calls.first->replaced, nullptr);
  EXPECT_FALSE(calls.second.has_value()) << "answered by the first caller's probe";
  EXPECT_EQ(blocked.calls(), 1);
  EXPECT_EQ(file_.current()->info.etag, "\"b\"");
}

TEST_F(MountedFileTest, CallersThatWaitedForAFailedProbeShareItsFailure) {
  // Behind a server that does not answer, each caller would otherwise wait for its own probe
  // after the first one's: n callers, n timeouts.
  clock_.AdvanceBy(10s);
  BlockedProbe blocked;
  const TwoCallers calls =
      RevalidateTwiceAtOnce(*this, blocked, Status(ErrorCode::kTransport, "timed out"));
  ASSERT_TRUE(calls.first.has_value());
  EXPECT_EQ(calls.first->status.code(), ErrorCode::kTransport);
  EXPECT_FALSE(calls.second.has_value());
  EXPECT_EQ(blocked.calls(), 1);
  EXPECT_EQ(file_.current()->generation, 0u) << "a failed probe keeps the version";
  // The next caller, later, asks again.
  clock_.AdvanceBy(1ms);
  EXPECT_TRUE(RevalidateNow(blocked.Counted()).has_value());
  EXPECT_EQ(blocked.calls(), 2);
}

}  // namespace
}  // namespace rangefs
