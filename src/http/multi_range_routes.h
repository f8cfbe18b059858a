// MultiRangeRoutes: what each route (an origin, reached directly or through a proxy) has shown
// about requests for several ranges at once, and so how the next such request goes out.
//
// Origin servers mostly answer several ranges at once (nginx, Apache, Caddy; S3 answers 200),
// so without a configured proxy a route is asked that way until it refuses. The caches in front
// of origins mostly do not (Varnish 7.1 answers 416, nginx's slice cache 200 with the whole
// file), and every refusal costs a round trip before the ranges are asked for alone; so through
// a configured proxy single ranges go out until one multi-range request, the route's trial, has
// come back as a usable 206. One trial at a time: the requests made meanwhile go out as single
// ranges. A usable 206 makes the route good, a refusal or an unusable answer makes it bad, for
// the rest of the process, and for later ones where a RouteMemory keeps it (the disk cache's
// directory); a trial that learned nothing (a transport error, a busy server) lets the next
// request try again.
//
// Thread-safety: thread-safe; one mutex, held for a lookup in the map only.
// Pure but for the RouteMemory it is given: no libcurl (unit-tested in
// tests/unit/multi_range_routes_test.cc).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "rangefs/route_memory.h"

namespace rangefs::http {

// A route: its key (the origin, and the proxy if there is one, credentials redacted: it is
// logged) and whether it goes through a proxy the user configured.
struct Route {
  std::string key;
  bool through_proxy = false;

  bool operator==(const Route&) const = default;
};

// The route a request to `origin` (UrlTarget::origin: "http://host:port") takes through
// `proxy`: a proxy URL, "DIRECT" for none, or "" for what libcurl's environment variables
// (http_proxy, no_proxy...) say. "" and "DIRECT" are routes of their own, since the environment
// may name a proxy; neither is a configured proxy.
Route RouteOf(std::string_view origin, std::string_view proxy);

// How a request for several ranges of a file on some route is to go out.
enum class MultiRangePlan {
  kMultiRange,    // one request for all of them
  kTrial,         // one request, as the route's trial: its outcome must be reported
  kSingleRanges,  // one request per range
};

// What the answer to a request for several ranges showed about its route.
enum class MultiRangeOutcome {
  kSupported,     // a 206 whose parts could be used
  kUnsupported,   // a refusal (416 to ranges inside the file, 200 with the whole file), or an
                  // answer no client can use: ask for one range at a time from now on
  kInconclusive,  // nothing learned: a transport error, a busy server, a redirect, a change
};

class MultiRangeRoutes {
 public:
  // `memory` (may be null; must outlive this) holds what earlier processes learned about
  // routes, and is told what this one learns.
  explicit MultiRangeRoutes(RouteMemory* memory = nullptr) : memory_(memory) {}

  enum class State {
    kUnknown,  // nothing learned yet
    kTrial,    // a trial is in flight (only routes through a configured proxy have trials)
    kGood,     // a usable 206 came back
    kBad,      // refused or answered unusably: final
  };

  // How the next request for several ranges on `route` goes out. Through a configured proxy,
  // the first call on an unknown route makes that request the trial.
  MultiRangePlan Plan(const Route& route);

  // What a request for several ranges on `route` learned; `trial`: Plan gave it as kTrial.
  // Returns true when this made the route bad, so that the caller says so once per route.
  bool Report(const Route& route, MultiRangeOutcome outcome, bool trial);

  State StateOf(const Route& route) const;

 private:
  RouteMemory* const memory_;
  mutable std::mutex mu_;
  // Absent: kUnknown. A few entries (origins x proxies), never removed but by a trial that
  // learned nothing.
  std::unordered_map<std::string, State> states_;  // Guarded by mu_
};

}  // namespace rangefs::http
