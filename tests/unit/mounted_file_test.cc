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
 protected:
  MountedFileTest()
      : file_("f", Info("\"a\""), clock_.Now(), 4096, ReadaheadConfig(),
              [this](MountedFile&, const FileVersion&, const Status&) { ++reports_; }) {}

  std::optional<MountedFile::Probed> Revalidate(const MountedFile::Probe& probe,
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

  fakes::ManualScheduler clock_;
  MountedFile file_;
  int reports_ = 0;
};

TEST_F(MountedFileTest, AConfirmationIsTrustedForMaxAgeByTheClock) {
  int probes = 0;
  const auto probe = [&](const RemoteFileInfo& current) -> Result<RemoteFileInfo> {
    ++probes;
    return current;
  };
  EXPECT_FALSE(Revalidate(probe).has_value());
  clock_.AdvanceBy(9999ms);
  EXPECT_FALSE(Revalidate(probe).has_value());
  EXPECT_EQ(probes, 0);
  clock_.AdvanceBy(1ms);
  const std::optional<MountedFile::Probed> probed = Revalidate(probe);
  ASSERT_TRUE(probed.has_value());
  EXPECT_TRUE(probed->status.ok());
  EXPECT_EQ(probed->replaced, nullptr);
  EXPECT_EQ(probes, 1);
  EXPECT_EQ(file_.confirmed_at(), clock_.Now());
  EXPECT_FALSE(Revalidate(probe).has_value());
  EXPECT_EQ(probes, 1);
}

TEST_F(MountedFileTest, AProbeThatShowsAnotherVersionMakesItCurrent) {
  clock_.AdvanceBy(10s);
  const FileVersionPtr before = file_.current();
  const std::optional<MountedFile::Probed> probed =
      Revalidate([](const RemoteFileInfo&) -> Result<RemoteFileInfo> { return Info("\"b\""); });
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
  ASSERT_TRUE(Revalidate(probe, suspect.get()).has_value());
  EXPECT_EQ(probes, 1);
  clock_.AdvanceBy(1ms);
  EXPECT_FALSE(Revalidate(probe, suspect.get()).has_value()) << "already replaced";
  EXPECT_EQ(probes, 1);
}

TEST_F(MountedFileTest, OnlyACurrentVersionsReportReachesTheHandler) {
  const FileVersionPtr first = file_.current();
  file_.ReportChanged(*first, Status(ErrorCode::kRemoteChanged, "etag differs"));
  EXPECT_EQ(reports_, 1);
  clock_.AdvanceBy(10s);
  ASSERT_TRUE(
      Revalidate([](const RemoteFileInfo&) -> Result<RemoteFileInfo> { return Info("\"b\""); }));
  file_.ReportChanged(*first, Status(ErrorCode::kRemoteChanged, "etag differs"));
  EXPECT_EQ(reports_, 1) << "a replaced version's readers fail without asking anyone";
}

TEST_F(MountedFileTest, TheProbeRunsWithNoLockHeld) {
  // A probe that calls back into the file (as a slow one lets every other caller do meanwhile)
  // would deadlock if the file's lock were held across it.
  clock_.AdvanceBy(10s);
  auto revalidated = std::async(std::launch::async, [&] {
    return Revalidate([&](const RemoteFileInfo& current) -> Result<RemoteFileInfo> {
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

TEST_F(MountedFileTest, ConcurrentCallersShareOneProbe) {
  clock_.AdvanceBy(10s);
  BlockedProbe blocked;
  auto first =
      std::async(std::launch::async, [&] { return Revalidate(blocked.Probe(Info("\"b\""))); });
  blocked.WaitStarted();
  auto second = std::async(std::launch::async, [&] { return Revalidate(blocked.Counted()); });
  // The second caller waits for the first one's answer rather than asking again.
  WaitUntilWaiting(1);
  blocked.Release();
  ASSERT_EQ(first.wait_for(kHang), std::future_status::ready);
  ASSERT_EQ(second.wait_for(kHang), std::future_status::ready);
  const std::optional<MountedFile::Probed> ran = first.get();
  ASSERT_TRUE(ran.has_value());
  EXPECT_NE(ran->replaced, nullptr);
  EXPECT_FALSE(second.get().has_value()) << "answered by the first caller's probe";
  EXPECT_EQ(blocked.calls(), 1);
  EXPECT_EQ(file_.current()->info.etag, "\"b\"");
}

TEST_F(MountedFileTest, CallersThatWaitedForAFailedProbeShareItsFailure) {
  // Behind a server that does not answer, each caller would otherwise wait for its own probe
  // after the first one's: n callers, n timeouts.
  clock_.AdvanceBy(10s);
  BlockedProbe blocked;
  auto first = std::async(std::launch::async, [&] {
    return Revalidate(blocked.Probe(Status(ErrorCode::kTransport, "timed out")));
  });
  blocked.WaitStarted();
  auto second = std::async(std::launch::async, [&] { return Revalidate(blocked.Counted()); });
  WaitUntilWaiting(1);
  blocked.Release();
  ASSERT_EQ(first.wait_for(kHang), std::future_status::ready);
  ASSERT_EQ(second.wait_for(kHang), std::future_status::ready);
  const std::optional<MountedFile::Probed> ran = first.get();
  ASSERT_TRUE(ran.has_value());
  EXPECT_EQ(ran->status.code(), ErrorCode::kTransport);
  EXPECT_FALSE(second.get().has_value());
  EXPECT_EQ(blocked.calls(), 1);
  EXPECT_EQ(file_.current()->generation, 0u) << "a failed probe keeps the version";
  // The next caller, later, asks again.
  clock_.AdvanceBy(1ms);
  EXPECT_TRUE(Revalidate(blocked.Counted()).has_value());
  EXPECT_EQ(blocked.calls(), 2);
}

}  // namespace
}  // namespace rangefs
