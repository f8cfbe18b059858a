#include "rangefs/mirror_map.h"

namespace rangefs {

void MirrorMap::Add(std::string primary, std::string mirror) {
  rules_.emplace_back(std::move(primary), std::move(mirror));
}

std::vector<std::string> MirrorMap::MirrorsOf(std::string_view url) const {
  std::vector<std::string> mirrors;
  for (const auto& [primary, mirror] : rules_) {
    if (primary == url) mirrors.push_back(mirror);
  }
  if (!mirrors.empty()) return mirrors;
  // The closest directory rule: the longest primary ending in '/' that `url` starts with.
  size_t best = 0;
  for (const auto& [primary, mirror] : rules_) {
    if (primary.ends_with('/') && url.starts_with(primary) && primary.size() > best) {
      best = primary.size();
    }
  }
  if (best == 0) return mirrors;
  const std::string_view relative = url.substr(best);
  for (const auto& [primary, mirror] : rules_) {
    if (primary.size() == best && url.starts_with(primary)) {
      mirrors.push_back(mirror + std::string(relative));
    }
  }
  return mirrors;
}

}  // namespace rangefs
