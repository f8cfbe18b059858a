#include "rangefs/mirrored_range_source.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "fakes/eventually.h"
#include "fakes/log_capture.h"
#include "fakes/memory_range_source.h"

namespace rangefs {
namespace {

using std::chrono::seconds;

constexpr uint64_t kSize = 300'000;
constexpr uint64_t kSeed = 7;
const std::string kPrimary = "http://primary/f.bin";
const std::string kMirror = "http://mirror/pub/f.bin";
const std::string kOther = "http://other/f.bin";

// The memory source, with addresses that are down: their probes and fetches fail as a server
// that refuses connections does.
class Servers final : public ForwardingRangeSource {
 public:
  explicit Servers(fakes::MemoryRangeSource& memory) : ForwardingRangeSource(memory) {}

  void SetDown(const std::string& url, bool down) {
    std::lock_guard lock(mu_);
    if (down) {
      down_.insert(url);
    } else {
      down_.erase(url);
    }
  }
  Result<RemoteFileInfo> Probe(const std::string& url) override {
    if (IsDown(url)) return Refused();
    return inner().Probe(url);
  }
  void StartFetch(const RemoteFileInfo& file, const ByteRange& range, FetchPriority priority,
                  std::shared_ptr<RangeSink> sink) override {
    // Asked where the request goes (final_url), as a server would be.
    RemoteFileInfo at = file;
    at.url = file.final_url;
    {
      std::lock_guard lock(mu_);
      fetched_at_.push_back(at.url);
    }
    if (IsDown(at.url)) return sink->OnDone(Refused());
    inner().StartFetch(at, range, priority, std::move(sink));
  }
  void StartMultiFetch(const RemoteFileInfo& file, const std::vector<ByteRange>& ranges,
                       FetchPriority priority,
                       std::vector<std::shared_ptr<RangeSink>> sinks) override {
    RangeSource::StartMultiFetch(file, ranges, priority, std::move(sinks));
  }
  std::vector<std::string> fetched_at() const {
    std::lock_guard lock(mu_);
    return fetched_at_;
  }

 private:
  static Status Refused() { return Status(ErrorCode::kTransport, "connection refused"); }
  bool IsDown(const std::string& url) const {
    std::lock_guard lock(mu_);
    return down_.contains(url);
  }

  mutable std::mutex mu_;
  std::set<std::string> down_;
  std::vector<std::string> fetched_at_;
};

class MirroredRangeSourceTest : public ::testing::Test {
 protected:
  MirroredRangeSourceTest() {
    memory_.AddSyntheticFile(kPrimary, kSize, kSeed);
    memory_.AddSyntheticFile(kMirror, kSize, kSeed);
    map_.Add(kPrimary, kMirror);
  }

  std::unique_ptr<MirroredRangeSource> Make(bool spread = false) {
    return std::make_unique<MirroredRangeSource>(
        servers_, map_, spread, nullptr, BackoffLimits{.first = seconds(1), .most = seconds(60)},
        [this] { return now_.load(); });
  }

  // Fetches `range` and checks the bytes against the file's.
  Status Read(RangeSource& source, const RemoteFileInfo& file, const ByteRange& range) {
    std::vector<std::byte> out(range.length());
    Status status = source.Fetch(file, range, out);
    if (status.ok()) {
      EXPECT_EQ(out, memory_.Content(kPrimary, range)) << "wrong bytes";
    }
    return status;
  }

  // Waits until the mirror is pinned: a fetch after that can go there.
  void WaitPinned(MirroredRangeSource& source, const std::string& url, const std::string& mirror) {
    ASSERT_TRUE(fakes::Eventually([&] {
      for (const std::string& line : source.DescribeAddresses(url)) {
        if (line.starts_with(mirror + " ") && !line.ends_with("unprobed")) return true;
      }
      return false;
    }));
  }

  // The primary's version, probed, read once and with its mirror pinned: a fetch may now go to
  // either address.
  RemoteFileInfo ProbedWithMirrorPinned(MirroredRangeSource& source) {
    Result<RemoteFileInfo> file = source.Probe(kPrimary);
    EXPECT_TRUE(file.ok());
    if (!file.ok()) return {};
    EXPECT_TRUE(Read(source, *file, {0, 9}).ok());
    WaitPinned(source, kPrimary, kMirror);
    return *file;
  }

  fakes::LogCapture log_;
  fakes::MemoryRangeSource memory_;
  Servers servers_{memory_};
  MirrorMap map_;
  std::atomic<std::chrono::steady_clock::time_point> now_{
      std::chrono::steady_clock::time_point(seconds(1000))};
};

TEST_F(MirroredRangeSourceTest, AFileWithoutMirrorsPassesThrough) {
  memory_.AddSyntheticFile(kOther, kSize, 9);
  auto source = Make();
  Result<RemoteFileInfo> file = source->Probe(kOther);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->url, kOther);
  std::vector<std::byte> out(100);
  EXPECT_TRUE(source->Fetch(*file, {0, 99}, out).ok());
  EXPECT_EQ(servers_.fetched_at(), std::vector<std::string>{kOther});
  EXPECT_TRUE(source->DescribeAddresses(kOther).empty());
}

TEST_F(MirroredRangeSourceTest, ThePrimaryServesWhileItWorks) {
  auto source = Make();
  Result<RemoteFileInfo> file = source->Probe(kPrimary);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->url, kPrimary);
  for (uint64_t first = 0; first < kSize; first += 100'000) {
    ASSERT_TRUE(Read(*source, *file, {first, first + 99}).ok());
  }
  WaitPinned(*source, kPrimary, kMirror);
  ASSERT_TRUE(Read(*source, *file, {5, 500}).ok());
  for (const std::string& at : servers_.fetched_at()) EXPECT_EQ(at, kPrimary);
}

TEST_F(MirroredRangeSourceTest, AFailedPrimaryIsLeftForTheMirrorAndComesBack) {
  auto source = Make();
  const RemoteFileInfo file = ProbedWithMirrorPinned(*source);
  ASSERT_FALSE(HasFailure());
  servers_.SetDown(kPrimary, true);
  const Status failed = Read(*source, file, {1000, 1999});
  EXPECT_EQ(failed.code(), ErrorCode::kTransport) << "passed up for the retry layer";
  ASSERT_TRUE(Read(*source, file, {1000, 1999}).ok()) << "the retry goes to the mirror";
  EXPECT_EQ(servers_.fetched_at().back(), kMirror);
  EXPECT_EQ(log_.Count(spdlog::level::warn, "http://primary failed"), 1u);
  servers_.SetDown(kPrimary, false);
  now_.store(now_.load() + seconds(1));
  ASSERT_TRUE(Read(*source, file, {2000, 2999}).ok());
  EXPECT_EQ(servers_.fetched_at().back(), kPrimary) << "the preferred address again";
}

TEST_F(MirroredRangeSourceTest, AMirrorOfAnotherSizeIsDroppedAndNeverUsed) {
  memory_.AddSyntheticFile(kMirror, kSize + 1, kSeed);
  auto source = Make();
  Result<RemoteFileInfo> file = source->Probe(kPrimary);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(Read(*source, *file, {0, 9}).ok());
  ASSERT_TRUE(fakes::Eventually(
      [&] { return log_.Count(spdlog::level::warn, "serves 300001 bytes, not the 300000") == 1; }));
  EXPECT_EQ(source->DescribeAddresses(kPrimary),
            (std::vector<std::string>{kPrimary + " up", kMirror + " dropped"}));
  servers_.SetDown(kPrimary, true);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Read(*source, *file, {10, 19}).ok());
  for (const std::string& at : servers_.fetched_at()) EXPECT_EQ(at, kPrimary);
}

TEST_F(MirroredRangeSourceTest, APrimaryDownAtMountServesTheMirrorsVersion) {
  servers_.SetDown(kPrimary, true);
  auto source = Make();
  Result<RemoteFileInfo> file = source->Probe(kPrimary);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->url, kPrimary) << "named by the primary";
  EXPECT_EQ(file->final_url, kMirror);
  ASSERT_TRUE(Read(*source, *file, {0, 99'999}).ok());
  EXPECT_EQ(servers_.fetched_at().front(), kMirror);
}

TEST_F(MirroredRangeSourceTest, EveryAddressDownFailsTheProbeNamingThePrimarysFailure) {
  servers_.SetDown(kPrimary, true);
  servers_.SetDown(kMirror, true);
  auto source = Make();
  Result<RemoteFileInfo> file = source->Probe(kPrimary);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), ErrorCode::kTransport);
  EXPECT_EQ(file.status().message(), "connection refused (and at its 1 mirror)");
}

TEST_F(MirroredRangeSourceTest, ARevalidationAnsweredByAMirrorKeepsTheVersion) {
  auto source = Make();
  const RemoteFileInfo file = ProbedWithMirrorPinned(*source);
  ASSERT_FALSE(HasFailure());
  servers_.SetDown(kPrimary, true);
  Result<RemoteFileInfo> again = source->Reprobe(kPrimary);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(SameVersion(*again, file));
  EXPECT_EQ(again->final_url, file.final_url);
}

TEST_F(MirroredRangeSourceTest, AMirrorThatChangedIsDroppedAndTheRetryGoesElsewhere) {
  auto source = Make();
  const RemoteFileInfo file = ProbedWithMirrorPinned(*source);
  ASSERT_FALSE(HasFailure());
  servers_.SetDown(kPrimary, true);
  EXPECT_FALSE(Read(*source, file, {0, 9}).ok());  // the primary fails, and backs off
  memory_.AddSyntheticFile(kMirror, kSize, 99);    // the mirror changed: another ETag
  const Status status = Read(*source, file, {0, 9});
  EXPECT_EQ(status.code(), ErrorCode::kTransport) << "retryable: " << status.ToString();
  EXPECT_EQ(log_.Count(spdlog::level::warn, "mirror http://mirror/pub/f.bin is not used"), 1u);
  EXPECT_EQ(source->DescribeAddresses(kPrimary).back(), kMirror + " dropped");
}

TEST_F(MirroredRangeSourceTest, SpreadSendsSegmentsToEveryAddress) {
  auto source = Make(/*spread=*/true);
  memory_.AddSyntheticFile(kPrimary, 1ull << 30, kSeed);
  memory_.AddSyntheticFile(kMirror, 1ull << 30, kSeed);
  Result<RemoteFileInfo> file = source->Probe(kPrimary);
  ASSERT_TRUE(file.ok());
  std::vector<std::byte> out(10);
  ASSERT_TRUE(source->Fetch(*file, {0, 9}, out).ok());
  WaitPinned(*source, kPrimary, kMirror);
  std::set<std::string> used;
  for (uint64_t segment = 0; segment < 16; ++segment) {
    ASSERT_TRUE(source->Fetch(*file, {segment << 20, (segment << 20) + 9}, out).ok());
    used.insert(servers_.fetched_at().back());
  }
  // 16 segments over 2 addresses by hash: all on one has probability 2^-15.
  EXPECT_EQ(used, (std::set<std::string>{kPrimary, kMirror}));
}

TEST_F(MirroredRangeSourceTest, ADirectoryRuleMirrorsEveryFileUnderIt) {
  MirrorMap map;
  map.Add("http://primary/", "http://mirror/pub/");
  auto source = std::make_unique<MirroredRangeSource>(servers_, map, false);
  Result<RemoteFileInfo> file = source->Probe(kPrimary);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(Read(*source, *file, {0, 9}).ok());
  WaitPinned(*source, kPrimary, kMirror);
}

}  // namespace
}  // namespace rangefs
