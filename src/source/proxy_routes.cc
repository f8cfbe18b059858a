#include "rangefs/proxy_routes.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "rangefs/redact.h"

namespace rangefs {
namespace {

constexpr std::string_view kDirect = "DIRECT";
constexpr uint64_t kSegmentBytes = 64ull << 20;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

// A stable hash (the same on every machine), so that all mounts send a segment through the
// same member of a group.
uint64_t Score(std::string_view key, std::string_view proxy) {
  std::string input;
  input.reserve(key.size() + 1 + proxy.size());
  input.append(key).append("\n").append(proxy);
  return XXH3_64bits(input.data(), input.size());
}

}  // namespace

Result<ProxyList> ParseProxyList(std::string_view text) {
  ProxyList list;
  for (std::string_view group_text : Split(text, ';')) {
    if (Trim(group_text).empty()) {
      return Status(ErrorCode::kInvalidArgument, "an empty proxy group in \"" + RedactUrl(text) +
                                                     "\" (groups are separated by ';')");
    }
    std::vector<std::string>& group = list.groups.emplace_back();
    for (std::string_view member : Split(group_text, '|')) {
      member = Trim(member);
      if (member.empty()) {
        return Status(ErrorCode::kInvalidArgument,
                      "an empty proxy in \"" + RedactUrl(text) +
                          "\" (members of a group are separated by '|')");
      }
      if (std::any_of(member.begin(), member.end(),
                      [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
        return Status(ErrorCode::kInvalidArgument,
                      "a proxy with a space inside: \"" + RedactUrl(member) + "\"");
      }
      group.push_back(member == kDirect ? std::string() : std::string(member));
    }
  }
  return list;
}

std::string RouteKey(std::string_view url, uint64_t offset) {
  return std::string(url) + "#" + std::to_string(offset / kSegmentBytes);
}

ProxyRoutes::ProxyRoutes(ProxyList list, BackoffLimits limits, AddressHealth::Clock clock)
    : groups_(list.groups.size()),
      health_(
          [&list] {
            size_t count = 0;
            for (const auto& group : list.groups) count += group.size();
            return count;
          }(),
          limits, std::move(clock)) {
  for (size_t g = 0; g < list.groups.size(); ++g) {
    for (std::string& proxy : list.groups[g]) {
      routes_.push_back(Route{.proxy = std::move(proxy), .group = g});
    }
  }
}

ProxyRoutes::Choice ProxyRoutes::Choose(std::string_view key) const {
  const auto now = health_.Now();
  // Best: the earliest group with a usable member, the highest score within it. When nothing
  // is usable: the soonest usable, earlier groups and higher scores first.
  size_t best = 0;
  bool best_usable = false;
  size_t best_group = 0;
  std::chrono::steady_clock::time_point best_at{};
  uint64_t best_score = 0;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const auto usable_at = health_.UsableAt(i);
    const bool usable = usable_at <= now;
    const uint64_t score = Score(key, routes_[i].proxy);
    bool better;
    if (i == 0) {
      better = true;
    } else if (usable != best_usable) {
      better = usable;
    } else if (usable) {
      better =
          routes_[i].group < best_group || (routes_[i].group == best_group && score > best_score);
    } else {
      better = usable_at < best_at ||
               (usable_at == best_at && (routes_[i].group < best_group ||
                                         (routes_[i].group == best_group && score > best_score)));
    }
    if (better) {
      best = i;
      best_usable = usable;
      best_group = routes_[i].group;
      best_at = usable_at;
      best_score = score;
    }
  }
  return Choice{
      .index = best, .proxy = routes_.empty() ? std::string() : routes_[best].proxy, .chosen = now};
}

std::string ProxyRoutes::Describe(size_t index) const {
  const std::string& proxy = routes_.at(index).proxy;
  return proxy.empty() ? std::string(kDirect) : RedactUrl(proxy);
}

void ProxyRoutes::ReportProxyFailure(size_t index, std::string_view reason) {
  if (routes_.at(index).proxy.empty()) return;
  const std::chrono::milliseconds backoff = health_.ReportFailure(index);
  if (backoff.count() == 0) return;
  const std::string instead = several() ? Describe(Choose("").index) : std::string();
  spdlog::warn("proxy {} failed ({}): not used for {:.1f} s{}", Describe(index), reason,
               static_cast<double>(backoff.count()) / 1000.0,
               several() ? "; requests go through " + instead + " meanwhile" : std::string());
}

void ProxyRoutes::ReportSuccess(size_t index, std::chrono::steady_clock::time_point started) {
  if (health_.ReportSuccess(index, started)) {
    spdlog::info("proxy {} works again", Describe(index));
  }
}

}  // namespace rangefs
