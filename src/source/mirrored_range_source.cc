#include "rangefs/mirrored_range_source.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "rangefs/address_metrics.h"
#include "rangefs/redact.h"

namespace rangefs {
namespace {

// Probes of mirrors run at once, at most this many: enough that a file's mirrors are pinned
// within a round trip or two of its first fetch, without taking many connections.
constexpr size_t kProbers = 2;

// With --spread, requests are spread over the addresses by the MiB they start in: the
// readahead's requests of one sequential reader go to all of them at once, unlike the 64 MiB
// segments of a proxy group, which keep a cache's copy whole (no cache sits behind both
// mirrors to share one).
constexpr uint64_t kSpreadBytes = 1 << 20;

std::string VersionKey(const RemoteFileInfo& info) {
  return info.url + '\n' + std::to_string(info.size) + '\n' + info.etag + '\n' +
         (info.last_modified ? std::to_string(*info.last_modified) : std::string("-"));
}

bool MayPass(ErrorCode code) {
  return code == ErrorCode::kTransport || code == ErrorCode::kTruncated ||
         code == ErrorCode::kServerBusy;
}

uint64_t Score(const std::string& key, const std::string& address) {
  const std::string input = key + '\n' + address;
  return XXH3_64bits(input.data(), input.size());
}

}  // namespace

struct MirroredRangeSource::Address {
  std::string url;
  size_t health = 0;
  std::optional<RemoteFileInfo> pinned;  // the file as this address serves it (url: its own)
  bool dropped = false;
  bool probing = false;
};

// One version of a mirrored file, all fields guarded by the source's mu_.
struct MirroredRangeSource::Version {
  RemoteFileInfo info;  // as mounted: url is the primary's, the rest from the home address
  size_t home = 0;      // the address whose probe gave `info`
  std::vector<Address> addresses;  // [0] the primary, then its mirrors in order
};

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

Result<RemoteFileInfo> MirroredRangeSource::ProbeAddresses(const std::string& url,
                                                           const ProbeCall& probe) {
  const std::vector<std::string> mirrors = mirrors_.MirrorsOf(url);
  if (mirrors.empty()) return probe(url);
  std::vector<std::string> addresses{url};
  addresses.insert(addresses.end(), mirrors.begin(), mirrors.end());

  std::vector<size_t> healths;
  for (const std::string& address : addresses)
    healths.push_back(health_.IndexOf(OriginOf(address)));

  std::optional<Status> primary_failure;
  for (size_t i = 0; i < addresses.size(); ++i) {
    const auto started = health_.Now();
    Result<RemoteFileInfo> answer = probe(addresses[i]);
    const size_t health = healths[i];
    if (!answer.ok()) {
      if (MayPass(answer.status().code())) {
        health_.ReportFailure(health);
        ShowState(addresses[i], false);
      }
      spdlog::debug("{}: probe of {} failed: {}", RedactUrl(url), RedactUrl(addresses[i]),
                    answer.status().ToString());
      if (!primary_failure) primary_failure = answer.status();
      continue;
    }
    if (health_.ReportSuccess(health, started)) ShowState(addresses[i], true);
    answer->url = addresses[i];
    std::shared_ptr<Version> version;
    {
      std::lock_guard lock(mu_);
      if (const auto current = current_.find(url); current != current_.end()) {
        const Address& known = current->second->addresses[i];
        // The answer of an address whose pin it matches: the mounted version, unchanged.
        if (known.pinned && !known.dropped && SameVersion(*known.pinned, *answer)) {
          return current->second->info;
        }
      }
      version = std::make_shared<Version>();
      version->home = i;
      for (size_t k = 0; k < addresses.size(); ++k) {
        Address& added = version->addresses.emplace_back();
        added.url = addresses[k];
        added.health = healths[k];
      }
      version->addresses[i].pinned = *answer;
      version->info = *answer;
      version->info.url = url;
      versions_[VersionKey(version->info)] = version;
      current_[url] = version;
    }
    if (i > 0) {
      spdlog::info("{}: the primary did not answer ({}); serving the version of {}", RedactUrl(url),
                   primary_failure->ToString(), RedactUrl(addresses[i]));
    }
    return version->info;
  }
  Status failure = *primary_failure;
  return Status(failure.code(), failure.message() + " (and at its " +
                                    std::to_string(mirrors.size()) +
                                    (mirrors.size() == 1 ? " mirror)" : " mirrors)"));
}

Result<RemoteFileInfo> MirroredRangeSource::Probe(const std::string& url) {
  return ProbeAddresses(url, [this](const std::string& address) { return inner().Probe(address); });
}

Result<RemoteFileInfo> MirroredRangeSource::Reprobe(const std::string& url) {
  return ProbeAddresses(url,
                        [this](const std::string& address) { return inner().Reprobe(address); });
}

Result<RemoteFileInfo> MirroredRangeSource::ProbeWithin(const std::string& url,
                                                        std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  return ProbeAddresses(url, [this, deadline](const std::string& address) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return inner().ProbeWithin(address, std::max(left, std::chrono::milliseconds(1)));
  });
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

void MirroredRangeSource::PinLater(const std::shared_ptr<Version>& version,
                                   const std::vector<size_t>& indices) {
  if (indices.empty()) return;
  std::shared_ptr<TaskPool> probers;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (!probers_) probers_ = std::make_shared<TaskPool>(kProbers);
    probers = probers_;
    for (size_t index : indices) version->addresses[index].probing = true;
  }
  // Posted with mu_ released: the pool has a lock of its own. After Stop, Post refuses, and
  // nothing needs the probing flags any more.
  for (size_t index : indices) probers->Post([this, version, index] { Pin(version, index); });
}

void MirroredRangeSource::Pin(const std::shared_ptr<Version>& version, size_t index) {
  std::string url;
  size_t health = 0;
  uint64_t size = 0;
  {
    std::lock_guard lock(mu_);
    url = version->addresses[index].url;
    health = version->addresses[index].health;
    size = version->info.size;
  }
  Result<RemoteFileInfo> answer = inner().Probe(url);
  const std::string shown = RedactUrl(url);
  const std::string file = RedactUrl(version->info.url);
  if (!answer.ok() && MayPass(answer.status().code())) {
    {
      std::lock_guard lock(mu_);
      version->addresses[index].probing = false;  // asked again once it is usable
    }
    health_.ReportFailure(health);
    ShowState(url, false);
    spdlog::info("mirror {} did not answer its probe: {}", shown, answer.status().ToString());
    return;
  }
  // Why the address cannot serve this version; empty when it can.
  std::string unusable;
  if (!answer.ok()) {
    unusable = answer.status().ToString();
  } else if (answer->size != size) {
    unusable = "serves " + std::to_string(answer->size) + " bytes, not the " +
               std::to_string(size) + " of " + file;
  } else if (!answer->ranges_supported) {
    unusable = "ignores Range requests";
  }
  {
    std::lock_guard lock(mu_);
    Address& address = version->addresses[index];
    address.probing = false;
    if (unusable.empty()) {
      answer->url = url;
      address.pinned = std::move(*answer);
    } else {
      address.dropped = true;
    }
  }
  if (unusable.empty()) {
    spdlog::debug("mirror {} of {}: pinned", shown, file);
  } else {
    spdlog::warn("mirror {} {}: not used for {}", shown, unusable, file);
  }
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
