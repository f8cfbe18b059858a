#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "rangefs/address_metrics.h"
#include "rangefs/mirrored_range_source.h"
#include "rangefs/redact.h"
#include "source/mirror_version.h"

namespace rangefs {
namespace {

using mirror_detail::MayPass;
using mirror_detail::VersionKey;

// Probes of mirrors run at once, at most this many: enough that a file's mirrors are pinned
// within a round trip or two of its first fetch, without taking many connections.
constexpr size_t kProbers = 2;

}  // namespace

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

}  // namespace rangefs
