#include "rangefs/mirrored_range_source.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "rangefs/address_metrics.h"
#include "rangefs/redact.h"
#include "source/mirror_version.h"

namespace rangefs {
namespace {

using mirror_detail::MayPass;
using mirror_detail::VersionKey;

// With --spread, requests are spread over the addresses by the MiB they start in: the
// readahead's requests of one sequential reader go to all of them at once, unlike the 64 MiB
// segments of a proxy group, which keep a cache's copy whole (no cache sits behind both
// mirrors to share one).
constexpr uint64_t kSpreadBytes = 1 << 20;

uint64_t Score(const std::string& key, const std::string& address) {
  const std::string input = key + '\n' + address;
  return XXH3_64bits(input.data(), input.size());
}

}  // namespace

// Passes one attempt's body on, and its end through Judge.
class MirroredRangeSource::AddressSink final : public RangeSink {
 public:
  AddressSink(MirroredRangeSource& owner, std::shared_ptr<Version> version, size_t index,
              std::shared_ptr<RangeSink> sink)
      : owner_(owner),
        version_(std::move(version)),
        index_(index),
        sink_(std::move(sink)),
        started_(owner.health_.Now()) {}
  bool OnData(std::span<const std::byte> data) override { return sink_->OnData(data); }
  void OnDone(const Status& status) override {
    sink_->OnDone(owner_.Judge(*version_, index_, status, started_));
  }

 private:
  MirroredRangeSource& owner_;
  const std::shared_ptr<Version> version_;
  const size_t index_;
  const std::shared_ptr<RangeSink> sink_;
  const std::chrono::steady_clock::time_point started_;
};

MirroredRangeSource::MirroredRangeSource(RangeSource& inner, MirrorMap mirrors, bool spread,
                                         Metrics* metrics, BackoffLimits limits,
                                         AddressHealth::Clock clock)
    : ForwardingRangeSource(inner),
      mirrors_(std::move(mirrors)),
      spread_(spread),
      metrics_(metrics),
      health_(0, limits, std::move(clock)) {}

MirroredRangeSource::~MirroredRangeSource() { Stop(); }

void MirroredRangeSource::ShowState(const std::string& url, bool up) {
  if (metrics_) metrics_->addresses().SetUp(AddressKind::kOrigin, OriginOf(url), up);
}

void MirroredRangeSource::Stop() {
  std::shared_ptr<TaskPool> probers;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    probers = std::move(probers_);
  }
  if (probers) probers->Stop();  // unlocked: a running probe's end takes mu_
}

std::shared_ptr<MirroredRangeSource::Version> MirroredRangeSource::VersionOf(
    const RemoteFileInfo& file) {
  if (mirrors_.empty()) return nullptr;
  std::lock_guard lock(mu_);
  const auto it = versions_.find(VersionKey(file));
  return it == versions_.end() ? nullptr : it->second;
}

size_t MirroredRangeSource::Choose(const Version& version, uint64_t offset,
                                   const HealthSnapshot& health, RemoteFileInfo& at,
                                   std::vector<size_t>& to_pin) {
  const std::string key = version.info.url + '#' + std::to_string(offset / kSpreadBytes);
  std::optional<size_t> best;
  bool best_usable = false;
  std::chrono::steady_clock::time_point best_at{};
  uint64_t best_score = 0;
  for (size_t i = 0; i < version.addresses.size(); ++i) {
    const Address& address = version.addresses[i];
    if (address.dropped) continue;
    const auto usable_at = health.usable_at.at(address.health);
    const bool usable = usable_at <= health.now;
    if (!address.pinned) {
      if (usable && !address.probing && !stopping_) to_pin.push_back(i);
      continue;
    }
    const uint64_t score = spread_ ? Score(key, address.url) : 0;
    bool better = !best;
    if (best && usable != best_usable) {
      better = usable;
    } else if (best && usable) {
      better = spread_ && score > best_score;
    } else if (best) {
      better = usable_at < best_at;
    }
    if (better) {
      best = i;
      best_usable = usable;
      best_at = usable_at;
      best_score = score;
    }
  }
  const size_t chosen = best.value_or(version.home);
  // The home address gets the file as given, where the retry layer may have moved final_url
  // (a redirect target). Another gets its own address and validators, but keeps the file's
  // name (url): its requests count as the file's traffic, a reader waiting for them can have
  // them started (Expedite matches by url), and credentials stay with the primary's origin.
  if (chosen != version.home) {
    at = *version.addresses[chosen].pinned;
    at.url = version.info.url;
  }
  return chosen;
}

Status MirroredRangeSource::Judge(Version& version, size_t index, const Status& status,
                                  std::chrono::steady_clock::time_point started) {
  size_t health = 0;
  std::string url;
  bool home = false;
  {
    std::lock_guard lock(mu_);
    health = version.addresses[index].health;
    url = version.addresses[index].url;
    home = index == version.home;
  }
  if (status.ok()) {
    if (health_.ReportSuccess(health, started)) {
      spdlog::info("{} answers again", RedactUrl(OriginOf(url)));
      ShowState(url, true);
    }
    return status;
  }
  if (status.code() == ErrorCode::kInternal) return status;  // rangefs's own end of it
  if (MayPass(status.code())) {
    const std::chrono::milliseconds backoff = health_.ReportFailure(health);
    if (backoff.count() > 0) {
      ShowState(url, false);
      spdlog::warn("{} failed ({}): {} is read from its other addresses for {:.1f} s",
                   RedactUrl(OriginOf(url)), status.ToString(), RedactUrl(version.info.url),
                   static_cast<double>(backoff.count()) / 1000.0);
    }
    return status;
  }
  // The version's own address decides what its answers mean (a change, a 404).
  if (home) return status;
  {
    std::lock_guard lock(mu_);
    Address& address = version.addresses[index];
    if (address.dropped) return Status(ErrorCode::kTransport, "mirror dropped");
    address.dropped = true;
  }
  spdlog::warn("mirror {} is not used for {} any more: {}", RedactUrl(url),
               RedactUrl(version.info.url), status.ToString());
  return Status(ErrorCode::kTransport, "mirror " + RedactUrl(url) + ": " + status.ToString());
}

void MirroredRangeSource::StartFetch(const RemoteFileInfo& file, const ByteRange& range,
                                     FetchPriority priority, std::shared_ptr<RangeSink> sink) {
  std::shared_ptr<Version> version = VersionOf(file);
  if (!version) return inner().StartFetch(file, range, priority, std::move(sink));
  const HealthSnapshot health{.now = health_.Now(), .usable_at = health_.UsableTimes()};
  RemoteFileInfo at = file;
  size_t index = 0;
  std::vector<size_t> to_pin;
  {
    std::lock_guard lock(mu_);
    index = Choose(*version, range.first, health, at, to_pin);
  }
  PinLater(version, to_pin);
  inner().StartFetch(
      at, range, priority,
      std::make_shared<AddressSink>(*this, std::move(version), index, std::move(sink)));
}

void MirroredRangeSource::StartMultiFetch(const RemoteFileInfo& file,
                                          const std::vector<ByteRange>& ranges,
                                          FetchPriority priority,
                                          std::vector<std::shared_ptr<RangeSink>> sinks) {
  std::shared_ptr<Version> version = VersionOf(file);
  if (!version || ranges.empty()) {
    return inner().StartMultiFetch(file, ranges, priority, std::move(sinks));
  }
  const HealthSnapshot health{.now = health_.Now(), .usable_at = health_.UsableTimes()};
  RemoteFileInfo at = file;
  size_t index = 0;
  std::vector<size_t> to_pin;
  {
    std::lock_guard lock(mu_);
    index = Choose(*version, ranges.front().first, health, at, to_pin);
  }
  PinLater(version, to_pin);
  for (std::shared_ptr<RangeSink>& sink : sinks) {
    sink = std::make_shared<AddressSink>(*this, version, index, std::move(sink));
  }
  inner().StartMultiFetch(at, ranges, priority, std::move(sinks));
}

std::vector<std::string> MirroredRangeSource::DescribeAddresses(const std::string& url) const {
  std::vector<std::string> lines;
  const std::vector<uint32_t> failures = health_.FailureCounts();
  std::lock_guard lock(mu_);
  const auto it = current_.find(url);
  if (it == current_.end()) return lines;
  for (const Address& address : it->second->addresses) {
    // Down: it failed and has not served since (it is asked again once its back-off ends).
    const char* state = address.dropped                   ? "dropped"
                        : !address.pinned                 ? "unprobed"
                        : failures.at(address.health) > 0 ? "down"
                                                          : "up";
    lines.push_back(RedactUrl(address.url) + " " + state);
  }
  return lines;
}

}  // namespace rangefs
