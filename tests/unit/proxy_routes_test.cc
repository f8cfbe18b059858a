#include "rangefs/proxy_routes.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "fakes/log_capture.h"

namespace rangefs {
namespace {

using std::chrono::seconds;

TEST(ParseProxyListTest, Grammar) {
  struct Case {
    std::string text;
    std::vector<std::vector<std::string>> groups;
  };
  const Case cases[] = {
      {"http://a:3128", {{"http://a:3128"}}},
      {"DIRECT", {{""}}},
      {"http://a:1|http://b:2", {{"http://a:1", "http://b:2"}}},
      {"http://a:1;http://b:2", {{"http://a:1"}, {"http://b:2"}}},
      {"http://a:1|http://b:2;http://c:3;DIRECT",
       {{"http://a:1", "http://b:2"}, {"http://c:3"}, {""}}},
      {" http://a:1 | b:2 ; DIRECT ", {{"http://a:1", "b:2"}, {""}}},
      {"socks5h://u:p%3Bq@h:1080", {{"socks5h://u:p%3Bq@h:1080"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Result<ProxyList> list = ParseProxyList(c.text);
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    EXPECT_EQ(list->groups, c.groups);
  }
}

TEST(ParseProxyListTest, RefusesEmptyMembersAndGroups) {
  for (const char* text : {"", ";", "http://a:1;", ";http://a:1", "http://a:1||http://b:2",
                           "http://a:1|", "|http://a:1", "http://a:1; ;DIRECT", "http://a b:1"}) {
    SCOPED_TRACE(text);
    Result<ProxyList> list = ParseProxyList(text);
    ASSERT_FALSE(list.ok());
    EXPECT_EQ(list.status().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(ParseProxyListTest, ErrorsRedactPasswords) {
  Result<ProxyList> list = ParseProxyList("http://user:secret@a:1||DIRECT");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().message().find("secret"), std::string::npos) << list.status().message();
}

class ProxyRoutesTest : public ::testing::Test {
 protected:
  ProxyRoutes Make(const std::string& text) {
    Result<ProxyList> list = ParseProxyList(text);
    EXPECT_TRUE(list.ok());
    return ProxyRoutes(*list, BackoffLimits{.first = seconds(1), .most = seconds(60)},
                       [this] { return now_; });
  }

  std::chrono::steady_clock::time_point now_{seconds(1000)};
  fakes::LogCapture log_;
};

TEST_F(ProxyRoutesTest, OneProxyTakesEveryRequest) {
  ProxyRoutes routes = Make("http://a:1");
  EXPECT_FALSE(routes.several());
  EXPECT_EQ(routes.Choose("x").proxy, "http://a:1");
  routes.ReportProxyFailure(0, "connection refused");
  EXPECT_EQ(routes.Choose("x").proxy, "http://a:1") << "never refused for want of a proxy";
}

TEST_F(ProxyRoutesTest, FailsOverInOrderAndComesBackAfterTheBackOff) {
  ProxyRoutes routes = Make("http://a:1;http://b:2;DIRECT");
  EXPECT_EQ(routes.Choose("k").proxy, "http://a:1");
  routes.ReportProxyFailure(0, "connection refused");
  EXPECT_EQ(routes.Choose("k").proxy, "http://b:2");
  routes.ReportProxyFailure(1, "connection refused");
  const ProxyRoutes::Choice direct = routes.Choose("k");
  EXPECT_TRUE(direct.direct());
  EXPECT_EQ(routes.Describe(direct.index), "DIRECT");
  now_ += seconds(1);
  EXPECT_EQ(routes.Choose("k").proxy, "http://a:1") << "the preferred one is tried again";
  routes.ReportProxyFailure(0, "connection refused");  // the trial failed: 2 s now
  EXPECT_EQ(routes.Choose("k").proxy, "http://b:2");
  now_ += seconds(2);
  EXPECT_EQ(routes.Choose("k").proxy, "http://a:1");
  routes.ReportSuccess(0, now_);
  EXPECT_EQ(routes.Choose("k").proxy, "http://a:1");
}

TEST_F(ProxyRoutesTest, DirectNeverBacksOff) {
  ProxyRoutes routes = Make("DIRECT;http://b:2");
  routes.ReportProxyFailure(0, "connection refused");
  EXPECT_TRUE(routes.Choose("k").direct());
}

TEST_F(ProxyRoutesTest, WhenAllBackOffTheSoonestUsableIsTaken) {
  ProxyRoutes routes = Make("http://a:1;http://b:2");
  routes.ReportProxyFailure(0, "refused");
  now_ += seconds(1);
  routes.ReportProxyFailure(0, "refused");  // a: usable in 2 s
  routes.ReportProxyFailure(1, "refused");  // b: usable in 1 s
  EXPECT_EQ(routes.Choose("k").proxy, "http://b:2");
}

TEST_F(ProxyRoutesTest, AGroupSpreadsKeysAndKeepsEachKeyOnOneMember) {
  ProxyRoutes routes = Make("http://a:1|http://b:2|http://c:3;DIRECT");
  std::map<std::string, int> per_proxy;
  std::map<std::string, std::string> first_choice;
  for (int i = 0; i < 3000; ++i) {
    const std::string key = RouteKey("http://origin/file" + std::to_string(i % 100),
                                     static_cast<uint64_t>(i / 100) << 26);
    const std::string proxy = routes.Choose(key).proxy;
    ++per_proxy[proxy];
    EXPECT_EQ(routes.Choose(key).proxy, proxy) << "the same key, the same member";
    first_choice[key] = proxy;
  }
  ASSERT_EQ(per_proxy.size(), 3u) << "DIRECT is not used while the group works";
  for (const auto& [proxy, count] : per_proxy) {
    EXPECT_GT(count, 800) << proxy;  // 1000 each on average
  }
  // One member backs off: only its keys move, and they come back with it.
  routes.ReportProxyFailure(1, "refused");
  int moved = 0;
  for (const auto& [key, proxy] : first_choice) {
    const std::string now_proxy = routes.Choose(key).proxy;
    if (proxy == "http://b:2") {
      EXPECT_NE(now_proxy, "http://b:2");
      EXPECT_FALSE(now_proxy.empty()) << "the rest of the group takes them, not DIRECT";
      ++moved;
    } else {
      EXPECT_EQ(now_proxy, proxy) << key;
    }
  }
  EXPECT_GT(moved, 0);
  now_ += seconds(1);
  for (const auto& [key, proxy] : first_choice) EXPECT_EQ(routes.Choose(key).proxy, proxy);
}

TEST_F(ProxyRoutesTest, ASegmentKeepsItsMember) {
  EXPECT_EQ(RouteKey("http://o/f", 0), RouteKey("http://o/f", (64ull << 20) - 1));
  EXPECT_NE(RouteKey("http://o/f", 0), RouteKey("http://o/f", 64ull << 20));
}

TEST_F(ProxyRoutesTest, LogsOnceWhenAProxyStartsBackingOffAndWhenItIsBack) {
  ProxyRoutes routes = Make("http://user:secret@a:1;DIRECT");
  for (int i = 0; i < 20; ++i) routes.ReportProxyFailure(0, "connection refused");
  EXPECT_EQ(
      log_.Count(spdlog::level::warn, "proxy http://user:***@a:1 failed (connection refused)"), 1u);
  EXPECT_EQ(log_.Count(spdlog::level::warn, "requests go through DIRECT"), 1u);
  EXPECT_EQ(log_.Count(spdlog::level::trace, "secret") + log_.Count(spdlog::level::warn, "secret") +
                log_.Count(spdlog::level::info, "secret"),
            0u);
  routes.ReportSuccess(0, now_);
  routes.ReportSuccess(0, now_);
  EXPECT_EQ(log_.Count(spdlog::level::info, "works again"), 1u);
}

}  // namespace
}  // namespace rangefs
