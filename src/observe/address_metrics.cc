#include "rangefs/address_metrics.h"

#include <algorithm>
#include <cctype>

namespace rangefs {

void AddressMetrics::CountRequest(AddressKind kind, std::string_view address, uint64_t body_bytes,
                                  bool failed) {
  std::lock_guard lock(mu_);
  AddressTraffic& traffic = traffic_[{kind, std::string(address)}];
  ++traffic.requests;
  traffic.body_bytes += body_bytes;
  if (failed) ++traffic.failures;
}

void AddressMetrics::SetUp(AddressKind kind, std::string_view address, bool up) {
  std::lock_guard lock(mu_);
  traffic_[{kind, std::string(address)}].up = up;
}

std::vector<AddressEntry> AddressMetrics::Entries() const {
  std::lock_guard lock(mu_);
  std::vector<AddressEntry> entries;
  entries.reserve(traffic_.size());
  for (const auto& [key, traffic] : traffic_) {
    entries.push_back(AddressEntry{.kind = key.first, .address = key.second, .traffic = traffic});
  }
  return entries;
}

std::string OriginOf(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const size_t host_start = scheme_end + 3;
  const size_t host_end = url.find_first_of("/?#", host_start);
  std::string_view authority = url.substr(host_start, host_end - host_start);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string origin(url.substr(0, host_start));
  origin += authority;
  std::transform(origin.begin(), origin.end(), origin.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return origin;
}

}  // namespace rangefs
