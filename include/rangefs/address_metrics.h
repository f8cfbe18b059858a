// AddressMetrics: traffic and state per address a request can go to, so that an operator sees
// which mirror or proxy is bad: the origins (scheme://host:port) requests went to, primaries and
// mirrors alike, and the proxies they went through. Kept apart from Metrics' lock-free counters:
// the set of addresses is not known in advance, and one short lock per request (not per byte)
// costs nothing measurable.
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rangefs {

enum class AddressKind { kOrigin, kProxy };

struct AddressTraffic {
  uint64_t requests = 0;
  uint64_t body_bytes = 0;
  uint64_t failures = 0;  // origins: no response or 5xx; proxies: the proxy's own failures
  bool up = true;         // false while it backs off after a failure, until one succeeds
};

struct AddressEntry {
  AddressKind kind = AddressKind::kOrigin;
  std::string address;  // credentials redacted
  AddressTraffic traffic;
};

class AddressMetrics {
 public:
  void CountRequest(AddressKind kind, std::string_view address, uint64_t body_bytes, bool failed);
  void SetUp(AddressKind kind, std::string_view address, bool up);
  // Every address seen, by kind, then address.
  std::vector<AddressEntry> Entries() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<AddressKind, std::string>, AddressTraffic> traffic_;  // Guarded by mu_
};

// "http://host:port" of `url`: scheme and host lower-cased, without userinfo, path or query. The
// URL itself when it has no "://".
std::string OriginOf(std::string_view url);

}  // namespace rangefs
