#include "http/multi_range_routes.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

namespace rangefs::http {
namespace {

using Plan = MultiRangePlan;
using Outcome = MultiRangeOutcome;
using State = MultiRangeRoutes::State;

const Route kDirectRoute = RouteOf("http://origin:80", "");
const Route kProxied = RouteOf("http://origin:80", "http://cache:3128");

TEST(RouteOfTest, KeyIsTheOriginAndTheProxy) {
  EXPECT_EQ(RouteOf("http://o:80", "").key, "http://o:80");
  EXPECT_FALSE(RouteOf("http://o:80", "").through_proxy) << "the environment's proxy, if any";
  EXPECT_FALSE(RouteOf("http://o:80", "DIRECT").through_proxy);
  EXPECT_NE(RouteOf("http://o:80", "DIRECT").key, RouteOf("http://o:80", "").key)
      << "the environment may name a proxy";
  const Route proxied = RouteOf("http://o:80", "http://cache:3128");
  EXPECT_TRUE(proxied.through_proxy);
  EXPECT_EQ(proxied.key, "http://o:80 via http://cache:3128");
  EXPECT_NE(proxied.key, RouteOf("http://o:80", "http://cache:3129").key);
  EXPECT_NE(proxied.key, RouteOf("http://p:80", "http://cache:3128").key);
}

TEST(RouteOfTest, ProxyCredentialsStayOutOfTheKey) {
  const Route route = RouteOf("http://o:80", "http://pat:s3cret@cache:3128");
  EXPECT_EQ(route.key.find("s3cret"), std::string::npos) << route.key;
  EXPECT_TRUE(route.through_proxy);
}

// Without a configured proxy: several ranges at once until the route refuses, as before.
TEST(MultiRangeRoutesTest, DirectRouteAsksForSeveralRangesUntilRefused) {
  MultiRangeRoutes routes;
  EXPECT_EQ(routes.Plan(kDirectRoute), Plan::kMultiRange);
  EXPECT_EQ(routes.Plan(kDirectRoute), Plan::kMultiRange) << "no trial: every request may try";
  EXPECT_EQ(routes.StateOf(kDirectRoute), State::kUnknown);
  EXPECT_FALSE(routes.Report(kDirectRoute, Outcome::kInconclusive, false));
  EXPECT_EQ(routes.StateOf(kDirectRoute), State::kUnknown);

  EXPECT_TRUE(routes.Report(kDirectRoute, Outcome::kUnsupported, false)) << "first refusal";
  EXPECT_FALSE(routes.Report(kDirectRoute, Outcome::kUnsupported, false))
      << "a second one, of a request in flight meanwhile, is not news";
  EXPECT_EQ(routes.StateOf(kDirectRoute), State::kBad);
  EXPECT_EQ(routes.Plan(kDirectRoute), Plan::kSingleRanges);
}

TEST(MultiRangeRoutesTest, DirectRouteStaysGoodUntilRefused) {
  MultiRangeRoutes routes;
  EXPECT_FALSE(routes.Report(kDirectRoute, Outcome::kSupported, false));
  EXPECT_EQ(routes.StateOf(kDirectRoute), State::kGood);
  EXPECT_EQ(routes.Plan(kDirectRoute), Plan::kMultiRange);
  // A server past its range limits may still refuse (nginx, Apache answer 200).
  EXPECT_TRUE(routes.Report(kDirectRoute, Outcome::kUnsupported, false));
  EXPECT_EQ(routes.Plan(kDirectRoute), Plan::kSingleRanges);
}

// Through a configured proxy: single ranges until one trial at a time shows a usable 206.
TEST(MultiRangeRoutesTest, ProxiedRouteTriesOneRequestAtATime) {
  MultiRangeRoutes routes;
  EXPECT_EQ(routes.Plan(kProxied), Plan::kTrial);
  EXPECT_EQ(routes.StateOf(kProxied), State::kTrial);
  EXPECT_EQ(routes.Plan(kProxied), Plan::kSingleRanges) << "while the trial is in flight";
  EXPECT_EQ(routes.Plan(kProxied), Plan::kSingleRanges);

  EXPECT_FALSE(routes.Report(kProxied, Outcome::kSupported, true));
  EXPECT_EQ(routes.StateOf(kProxied), State::kGood);
  EXPECT_EQ(routes.Plan(kProxied), Plan::kMultiRange);
  EXPECT_EQ(routes.Plan(kProxied), Plan::kMultiRange);
}

TEST(MultiRangeRoutesTest, ProxiedRouteThatRefusesIsAskedForSingleRanges) {
  MultiRangeRoutes routes;
  ASSERT_EQ(routes.Plan(kProxied), Plan::kTrial);
  EXPECT_TRUE(routes.Report(kProxied, Outcome::kUnsupported, true));
  EXPECT_EQ(routes.StateOf(kProxied), State::kBad);
  EXPECT_EQ(routes.Plan(kProxied), Plan::kSingleRanges);
  EXPECT_FALSE(routes.Report(kProxied, Outcome::kSupported, false)) << "bad is final";
  EXPECT_EQ(routes.StateOf(kProxied), State::kBad);
}

TEST(MultiRangeRoutesTest, TrialThatLearnedNothingLetsTheNextRequestTry) {
  MultiRangeRoutes routes;
  ASSERT_EQ(routes.Plan(kProxied), Plan::kTrial);
  EXPECT_FALSE(routes.Report(kProxied, Outcome::kInconclusive, true));
  EXPECT_EQ(routes.StateOf(kProxied), State::kUnknown);
  EXPECT_EQ(routes.Plan(kProxied), Plan::kTrial);
}

TEST(MultiRangeRoutesTest, OnlyTheTrialEndsTheTrial) {
  MultiRangeRoutes routes;
  ASSERT_EQ(routes.Plan(kProxied), Plan::kTrial);
  EXPECT_FALSE(routes.Report(kProxied, Outcome::kInconclusive, false));
  EXPECT_EQ(routes.StateOf(kProxied), State::kTrial);
  EXPECT_EQ(routes.Plan(kProxied), Plan::kSingleRanges);
}

TEST(MultiRangeRoutesTest, RoutesAreKeptApart) {
  MultiRangeRoutes routes;
  const Route other_proxy = RouteOf("http://origin:80", "http://other-cache:3128");
  const Route other_origin = RouteOf("http://mirror:80", "http://cache:3128");
  ASSERT_EQ(routes.Plan(kProxied), Plan::kTrial);
  EXPECT_TRUE(routes.Report(kProxied, Outcome::kUnsupported, true));

  EXPECT_EQ(routes.Plan(other_proxy), Plan::kTrial) << "another proxy to the same origin";
  EXPECT_EQ(routes.Plan(other_origin), Plan::kTrial) << "the same proxy to another origin";
  EXPECT_EQ(routes.Plan(kDirectRoute), Plan::kMultiRange) << "the origin itself";
  EXPECT_EQ(routes.StateOf(kProxied), State::kBad);
}

}  // namespace
}  // namespace rangefs::http

namespace rangefs::http {
namespace {

// A memory of routes in a map, counting what it is told.
class MapRouteMemory final : public RouteMemory {
 public:
  std::optional<bool> RecallMultiRange(const std::string& key) const override {
    const auto it = known.find(key);
    return it == known.end() ? std::nullopt : std::optional(it->second);
  }
  void RememberMultiRange(const std::string& key, bool supported) override {
    known[key] = supported;
    ++remembered;
  }
  std::map<std::string, bool> known;
  int remembered = 0;
};

TEST(MultiRangeRoutesMemoryTest, WhatAnEarlierProcessLearnedIsUsedAtOnce) {
  MapRouteMemory memory;
  memory.known[kProxied.key] = false;
  memory.known[kDirectRoute.key] = true;
  MultiRangeRoutes routes(&memory);
  EXPECT_EQ(routes.Plan(kProxied), Plan::kSingleRanges) << "no trial: it refused before";
  EXPECT_EQ(routes.StateOf(kProxied), State::kBad);
  EXPECT_EQ(routes.Plan(kDirectRoute), Plan::kMultiRange);
  EXPECT_EQ(routes.StateOf(kDirectRoute), State::kGood);
  EXPECT_EQ(memory.remembered, 0);
}

TEST(MultiRangeRoutesMemoryTest, WhatThisProcessLearnsIsKeptOnce) {
  MapRouteMemory memory;
  MultiRangeRoutes routes(&memory);
  ASSERT_EQ(routes.Plan(kProxied), Plan::kTrial);
  EXPECT_TRUE(routes.Report(kProxied, Outcome::kUnsupported, true));
  EXPECT_FALSE(routes.Report(kProxied, Outcome::kUnsupported, false));
  EXPECT_EQ(memory.known.at(kProxied.key), false);
  ASSERT_EQ(routes.Plan(kDirectRoute), Plan::kMultiRange);
  routes.Report(kDirectRoute, Outcome::kSupported, false);
  routes.Report(kDirectRoute, Outcome::kSupported, false);
  routes.Report(kDirectRoute, Outcome::kInconclusive, false);
  EXPECT_EQ(memory.known.at(kDirectRoute.key), true);
  EXPECT_EQ(memory.remembered, 2) << "one line per route learned, not one per answer";
}

}  // namespace
}  // namespace rangefs::http
