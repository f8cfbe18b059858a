// AddressHealth: which of several addresses (proxies now, mirrors later) may be used, after
// failures. An address that fails backs off for a delay that doubles with each failure in a row,
// up to a ceiling (the reset interval: the preferred address is tried again at least that often,
// as CernVM-FS's CVMFS_PROXY_RESET_AFTER does); one success clears it. Pure apart from its lock:
// the caller supplies the clock, so tests step time by hand.
//
// Many requests in flight through one address fail together when it goes away; only the first
// failure while the address is usable counts, so a burst does not multiply the back-off.
//
// Thread-safety: thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace rangefs {

struct BackoffLimits {
  std::chrono::milliseconds first{1'000};   // after the first failure in a row
  std::chrono::milliseconds most{300'000};  // the ceiling: the reset interval
};

class AddressHealth {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `count` addresses, numbered from 0, all usable. Without `clock`, steady_clock's.
  AddressHealth(size_t count, BackoffLimits limits, Clock clock = {});

  size_t size() const;
  // The number of the address named `key`, made (usable) the first time a key is seen: for
  // callers that meet their addresses as they go.
  size_t IndexOf(std::string_view key);
  // When each address becomes usable, by number: one look at all of them under one lock.
  std::vector<std::chrono::steady_clock::time_point> UsableTimes() const;
  // Failures in a row of each address, by number (0: healthy), likewise.
  std::vector<uint32_t> FailureCounts() const;

  // Whether address `i` is not backing off now.
  bool Usable(size_t i) const;
  // The time address `i` becomes usable (now or earlier when usable).
  std::chrono::steady_clock::time_point UsableAt(size_t i) const;

  // Address `i` failed. Returns the back-off it now serves when this failure started or
  // lengthened one, zero when it was already backing off (the failure is one of a burst).
  std::chrono::milliseconds ReportFailure(size_t i);
  // Address `i` served a request that started at `started` (by this clock). Returns whether it
  // had been failing (it is back). A request that started before the latest failure proves
  // nothing newer than that failure and changes nothing: the requests in flight when a server
  // goes away may still end well, one after the other.
  bool ReportSuccess(size_t i, std::chrono::steady_clock::time_point started);

  // Failures in a row of address `i` (0: healthy).
  uint32_t FailuresOf(size_t i) const;

  std::chrono::steady_clock::time_point Now() const;

 private:
  struct State {
    uint32_t failures = 0;
    std::chrono::steady_clock::time_point usable_at{};
    std::chrono::steady_clock::time_point failed_at{};  // the latest failure reported
  };

  const BackoffLimits limits_;
  const Clock clock_;
  mutable std::mutex mu_;
  std::vector<State> states_;                           // Guarded by mu_
  std::map<std::string, size_t, std::less<>> indices_;  // by IndexOf's key; Guarded by mu_
};

}  // namespace rangefs
