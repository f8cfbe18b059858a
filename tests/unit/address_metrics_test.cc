#include "rangefs/address_metrics.h"

#include <gtest/gtest.h>

namespace rangefs {
namespace {

TEST(AddressMetricsTest, CountsPerKindAndAddress) {
  AddressMetrics metrics;
  metrics.CountRequest(AddressKind::kOrigin, "http://a", 100, false);
  metrics.CountRequest(AddressKind::kOrigin, "http://a", 50, true);
  metrics.CountRequest(AddressKind::kProxy, "http://a", 7, false);
  metrics.SetUp(AddressKind::kOrigin, "http://a", false);
  metrics.SetUp(AddressKind::kProxy, "http://p:3128", false);
  const std::vector<AddressEntry> entries = metrics.Entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].kind, AddressKind::kOrigin);
  EXPECT_EQ(entries[0].traffic.requests, 2u);
  EXPECT_EQ(entries[0].traffic.body_bytes, 150u);
  EXPECT_EQ(entries[0].traffic.failures, 1u);
  EXPECT_FALSE(entries[0].traffic.up);
  EXPECT_EQ(entries[1].kind, AddressKind::kProxy);
  EXPECT_EQ(entries[1].address, "http://a");
  EXPECT_TRUE(entries[1].traffic.up);
  EXPECT_EQ(entries[2].address, "http://p:3128");
  EXPECT_EQ(entries[2].traffic.requests, 0u) << "a state alone makes an entry";
  EXPECT_FALSE(entries[2].traffic.up);
}

TEST(OriginOfTest, SchemeAndAuthorityLowerCasedWithoutUserinfo) {
  EXPECT_EQ(OriginOf("http://Example.COM:8080/a/b?c#d"), "http://example.com:8080");
  EXPECT_EQ(OriginOf("HTTPS://user:pw@Host/x"), "https://host");
  EXPECT_EQ(OriginOf("http://h"), "http://h");
  EXPECT_EQ(OriginOf("http://h?q=1"), "http://h");
  EXPECT_EQ(OriginOf("not a url"), "not a url");
}

}  // namespace
}  // namespace rangefs
