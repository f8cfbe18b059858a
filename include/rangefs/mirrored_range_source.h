// MirroredRangeSource: a file served at several addresses (MirrorMap): its primary URL and its
// mirrors. Sits below the retry layer, so that each attempt of a fetch, the first and every
// retry, asks the address that is best now; a failed attempt makes the next one go elsewhere
// after the retry layer's short first back-off, resuming from the first missing byte.
//
// Identity. The version a file is mounted as comes from the address that answered its probe
// (the primary, unless it was down): its size and validators, its FileKey. The other addresses
// are probed when first needed, on a worker (never on a reader's thread), and each one's own
// validators are pinned for its If-Range: mirrors are different servers, whose ETags and dates
// differ for the same bytes. A mirror that serves another size is dropped for that file, with
// one log line; so is one whose answers stop matching its pin (it changed), or that cannot
// serve ranges. The bytes of mirrors of one size are trusted to be the same (digests will
// check them); the one address whose answers can say the mounted version changed is the one it
// came from.
//
// Failover. Addresses back off after failures that may pass (AddressHealth per origin, shared
// by all files there: 1 s doubling to 5 min); an attempt goes to the first usable address in
// the order given (primary first), or, with `spread`, to the one rendezvous hashing of its
// MiB it starts in ranks first among the usable ones, for aggregate speed. A failure that rules
// out an address for the file (another size, a changed version, a 404) reaches the retry layer
// as a transport failure, so it retries elsewhere; one at the version's own address passes up
// unchanged.
//
// Probes try the addresses in order until one answers; a revalidation whose answer matches
// the pin of the address that gave it keeps the mounted version.
//
// Thread-safety: as RangeSource. Sinks are called from the inner source's threads. Probing
// workers are started at the first fetch, never before (main forks after the mount's probes).
// The inner source must outlive this.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "rangefs/address_health.h"
#include "rangefs/forwarding_range_source.h"
#include "rangefs/metrics.h"
#include "rangefs/mirror_map.h"
#include "rangefs/task_pool.h"

namespace rangefs {

class MirroredRangeSource final : public ForwardingRangeSource {
 public:
  // `metrics` (may be null; must outlive this) shows each origin's state (up, backing off).
  MirroredRangeSource(RangeSource& inner, MirrorMap mirrors, bool spread,
                      Metrics* metrics = nullptr, BackoffLimits limits = {},
                      AddressHealth::Clock clock = {});
  ~MirroredRangeSource() override;

  // Drops the probes not yet started and waits for running ones; later ones are not made.
  // Call before the inner source goes away.
  void Stop();

  Result<RemoteFileInfo> Probe(const std::string& url) override;
  Result<RemoteFileInfo> Reprobe(const std::string& url) override;
  Result<RemoteFileInfo> ProbeWithin(const std::string& url,
                                     std::chrono::milliseconds budget) override;
  void StartFetch(const RemoteFileInfo& file, const ByteRange& range, FetchPriority priority,
                  std::shared_ptr<RangeSink> sink) override;
  void StartMultiFetch(const RemoteFileInfo& file, const std::vector<ByteRange>& ranges,
                       FetchPriority priority,
                       std::vector<std::shared_ptr<RangeSink>> sinks) override;

  // What each address of `url`'s current version is doing, for xattrs and tests: one line per
  // address, "URL up|down|dropped|unprobed". Empty without mirrors.
  std::vector<std::string> DescribeAddresses(const std::string& url) const;

 private:
  struct Address;
  struct Version;
  class AddressSink;

  // One probe of `address`: Probe, or ProbeWithin `budget` when given.
  using ProbeCall = std::function<Result<RemoteFileInfo>(const std::string& address)>;
  Result<RemoteFileInfo> ProbeAddresses(const std::string& url, const ProbeCall& probe);
  // The version of `file` (registered by a probe), or null for a file without mirrors.
  std::shared_ptr<Version> VersionOf(const RemoteFileInfo& file);
  // When each address becomes usable, looked at before mu_ is taken (AddressHealth has a lock
  // of its own, and no lock is taken while another is held).
  struct HealthSnapshot {
    std::chrono::steady_clock::time_point now;
    std::vector<std::chrono::steady_clock::time_point> usable_at;
  };
  // The address an attempt from `offset` on goes to, with the file as that address serves it
  // in `at`; the unprobed addresses worth probing go to `to_pin`. REQUIRES: mu_ held.
  size_t Choose(const Version& version, uint64_t offset, const HealthSnapshot& health,
                RemoteFileInfo& at, std::vector<size_t>& to_pin);
  // Probes `indices` of `version` on a worker. REQUIRES: mu_ not held.
  void PinLater(const std::shared_ptr<Version>& version, const std::vector<size_t>& indices);
  void Pin(const std::shared_ptr<Version>& version, size_t index);
  // How an attempt at address `index` of `version` ended: health, drops, and the status the
  // retry layer is to see.
  // `started`: when the attempt began (health_'s clock).
  Status Judge(Version& version, size_t index, const Status& status,
               std::chrono::steady_clock::time_point started);

  // Tells the metrics whether the origin of `url` is up.
  void ShowState(const std::string& url, bool up);

  const MirrorMap mirrors_;
  const bool spread_;
  Metrics* const metrics_;
  mutable AddressHealth health_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Version>> versions_;  // by VersionKey; mu_
  std::map<std::string, std::shared_ptr<Version>> current_;   // by url; Guarded by mu_
  std::shared_ptr<TaskPool> probers_;  // Guarded by mu_; made at the first fetch
  bool stopping_ = false;              // Guarded by mu_
};

}  // namespace rangefs
