#include "http/multi_range_routes.h"

#include "rangefs/redact.h"

namespace rangefs::http {

namespace {

constexpr std::string_view kDirect = "DIRECT";  // CernVM-FS's word for "no proxy"

}  // namespace

Route RouteOf(std::string_view origin, std::string_view proxy) {
  Route route;
  route.key = std::string(origin);
  if (proxy.empty()) return route;
  if (proxy == kDirect) {
    route.key += " direct";
    return route;
  }
  // Redacted: the key is logged, and a proxy's credentials change nothing about what it does.
  route.key += " via " + RedactUrl(proxy);
  route.through_proxy = true;
  return route;
}

MultiRangePlan MultiRangeRoutes::Plan(const Route& route) {
  // What an earlier process learned about a route this one has not used yet, asked with mu_
  // released (the memory has a lock of its own).
  std::optional<bool> recalled;
  if (memory_ && StateOf(route) == State::kUnknown) recalled = memory_->RecallMultiRange(route.key);
  std::lock_guard lock(mu_);
  if (recalled) states_.try_emplace(route.key, *recalled ? State::kGood : State::kBad);
  const auto found = states_.find(route.key);
  const State state = found == states_.end() ? State::kUnknown : found->second;
  switch (state) {
    case State::kGood:
      return MultiRangePlan::kMultiRange;
    case State::kBad:
    case State::kTrial:
      return MultiRangePlan::kSingleRanges;
    case State::kUnknown:
      break;
  }
  if (!route.through_proxy) return MultiRangePlan::kMultiRange;
  states_[route.key] = State::kTrial;
  return MultiRangePlan::kTrial;
}

bool MultiRangeRoutes::Report(const Route& route, MultiRangeOutcome outcome, bool trial) {
  bool made_bad = false;
  std::optional<bool> learned;  // what to keep for later processes
  {
    std::lock_guard lock(mu_);
    const auto found = states_.find(route.key);
    const State state = found == states_.end() ? State::kUnknown : found->second;
    switch (outcome) {
      case MultiRangeOutcome::kSupported:
        // Bad is final: a route that once refused is not asked again, so a later 206 can only
        // be one that was in flight meanwhile, and one refusal is reason enough.
        if (state != State::kBad && state != State::kGood) {
          states_[route.key] = State::kGood;
          learned = true;
        }
        break;
      case MultiRangeOutcome::kUnsupported:
        states_[route.key] = State::kBad;
        made_bad = state != State::kBad;
        if (made_bad) learned = false;
        break;
      case MultiRangeOutcome::kInconclusive:
        // Only the trial's own end frees the route for the next trial; any other request that
        // learned nothing leaves the route as it is.
        if (trial && state == State::kTrial) states_.erase(found);
        break;
    }
  }
  if (memory_ && learned) memory_->RememberMultiRange(route.key, *learned);
  return made_bad;
}

MultiRangeRoutes::State MultiRangeRoutes::StateOf(const Route& route) const {
  std::lock_guard lock(mu_);
  const auto found = states_.find(route.key);
  return found == states_.end() ? State::kUnknown : found->second;
}

}  // namespace rangefs::http
