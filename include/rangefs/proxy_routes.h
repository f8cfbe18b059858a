// ProxyRoutes: the proxies requests go through, in CernVM-FS's grammar, and which one a request
// takes. `A|B` is a group: its members share the load. `A;B` lists groups in order of
// preference: a later group is used only while every member of the earlier ones backs off after
// a failure. `DIRECT` is a member that means no proxy. One proxy alone is a group of one.
//
// Within a group a request goes to the member that rendezvous hashing of its key (the URL and
// the 64 MiB segment of the file it asks for) ranks first among the usable ones: different
// files and segments spread over the group, while each range of a file keeps going through
// one member, so that a group of caches holds one copy of it and the origin sends it once.
// When a member backs off, only its keys move, and they come back with it.
//
// Thread-safety: thread-safe (the health is; the list is immutable).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "rangefs/address_health.h"
#include "rangefs/status.h"

namespace rangefs {

// What --proxy says: groups in order of preference, each a list of proxy URLs; an empty string
// is DIRECT.
struct ProxyList {
  std::vector<std::vector<std::string>> groups;
};

// Parses `A|B;C|DIRECT`. Spaces around members are ignored; an empty member or group, or a
// member with spaces inside, is an error naming it. Proxy URLs are taken as written (libcurl
// reads them: http://, https://, socks5h://, and host:port), with `|` and `;` in credentials
// percent-encoded.
Result<ProxyList> ParseProxyList(std::string_view text);

class ProxyRoutes {
 public:
  // One route: the proxy (empty: DIRECT) and its number, for Report.
  struct Choice {
    size_t index = 0;
    std::string proxy;
    std::chrono::steady_clock::time_point chosen{};  // when: the request's start, for Report*
    bool direct() const { return proxy.empty(); }
  };

  ProxyRoutes(ProxyList list, BackoffLimits limits, AddressHealth::Clock clock = {});

  // The route for a request whose key is `key`: the first group with a usable member, and in
  // it the member the key ranks first. When every member backs off, the one usable soonest
  // (earlier groups first on a tie): a request is never refused for want of a proxy.
  Choice Choose(std::string_view key) const;

  // The route `index` failed as a proxy (it could not be reached, or said so itself): it backs
  // off. Logs one warning when it starts backing off, naming `reason` and the route taken
  // instead. DIRECT never backs off: what fails there is the origin.
  void ReportProxyFailure(size_t index, std::string_view reason);
  // The route `index` carried a request through (whatever the origin answered); the request
  // started at `started` (Now()).
  void ReportSuccess(size_t index, std::chrono::steady_clock::time_point started);
  // The routes' clock, for the start of a request.
  std::chrono::steady_clock::time_point Now() const { return health_.Now(); }

  size_t size() const { return routes_.size(); }
  // The route's proxy as logs show it (credentials redacted), or "DIRECT".
  std::string Describe(size_t index) const;
  // Several routes: failing over or spreading load is possible.
  bool several() const { return routes_.size() > 1; }

 private:
  struct Route {
    std::string proxy;
    size_t group = 0;
  };

  std::vector<Route> routes_;
  size_t groups_ = 0;
  mutable AddressHealth health_;
};

// The key a range request is routed by: its URL and the 64 MiB segment `offset` falls in.
std::string RouteKey(std::string_view url, uint64_t offset);

}  // namespace rangefs
