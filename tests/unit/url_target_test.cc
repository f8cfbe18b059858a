#include "http/url_target.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace rangefs::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseUrlTargetTest, OriginHasSchemeLowerCaseHostAndPort) {
  Result<UrlTarget> target = ParseUrlTarget("HTTPS://Example.ORG/a/b.iso?x=1");
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  EXPECT_EQ(target->scheme, "https");
  EXPECT_EQ(target->origin, "https://example.org:443");
  EXPECT_EQ(target->request_url, "https://example.org/a/b.iso?x=1");
  EXPECT_FALSE(target->user);
  EXPECT_FALSE(target->password);
}

TEST(ParseUrlTargetTest, DefaultAndExplicitPortsAreTheSameOrigin) {
  EXPECT_EQ(ParseUrlTarget("http://h/x")->origin, ParseUrlTarget("http://h:80/y")->origin);
  EXPECT_NE(ParseUrlTarget("http://h/x")->origin, ParseUrlTarget("https://h/x")->origin);
  EXPECT_NE(ParseUrlTarget("http://h:8080/x")->origin, ParseUrlTarget("http://h:8081/x")->origin);
  EXPECT_NE(ParseUrlTarget("http://a.h/x")->origin, ParseUrlTarget("http://b.h/x")->origin);
  EXPECT_EQ(ParseUrlTarget("http://[::1]:8080/x")->origin, "http://[::1]:8080");
}

TEST(ParseUrlTargetTest, UserinfoIsDecodedAndTakenOutOfTheUrl) {
  Result<UrlTarget> target = ParseUrlTarget("http://al%40ice:p%3Ass@h:8080/f?q=1");
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  EXPECT_EQ(target->user, "al@ice");
  EXPECT_EQ(target->password, "p:ss");
  EXPECT_EQ(target->request_url, "http://h:8080/f?q=1");
  EXPECT_EQ(target->origin, "http://h:8080");

  target = ParseUrlTarget("https://token@h/f");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->user, "token");
  EXPECT_FALSE(target->password);
  EXPECT_EQ(target->request_url, "https://h/f");
}

// Caches in front of origins key their entries on Host and the URL: every spelling of one origin
// goes out as one.
TEST(ParseUrlTargetTest, RequestUrlIsCanonical) {
  const std::string expected = "http://example.com/x";
  for (const char* url : {"http://example.com/x", "HTTP://Example.COM:80/x",
                          "http://EXAMPLE.com:080/x", "http://example.com/x#fragment"}) {
    Result<UrlTarget> target = ParseUrlTarget(url);
    ASSERT_TRUE(target.ok()) << url;
    EXPECT_EQ(target->request_url, expected) << url;
  }
  EXPECT_EQ(ParseUrlTarget("https://Example.com:443")->request_url, "https://example.com/");
  // Not the default port of the scheme: kept.
  EXPECT_EQ(ParseUrlTarget("https://example.com:80/x")->request_url, "https://example.com:80/x");
  EXPECT_EQ(ParseUrlTarget("http://example.com:443/x")->request_url, "http://example.com:443/x");
  EXPECT_EQ(ParseUrlTarget("http://Example.com:8080/x")->request_url, "http://example.com:8080/x");
  EXPECT_EQ(ParseUrlTarget("http://[::1]:80/x")->request_url, "http://[::1]/x");
  EXPECT_EQ(ParseUrlTarget("http://[FE80::A]:8080/x")->request_url, "http://[fe80::a]:8080/x");
  // A zone ID names a local interface: kept as given.
  EXPECT_EQ(ParseUrlTarget("http://[FE80::A%25Eth0]:80/x")->request_url,
            "http://[fe80::a%25Eth0]/x");
}

TEST(ParseUrlTargetTest, RequestUrlKeepsPathAndQueryAsGiven) {
  // Only scheme, host and port change: the path and query are the server's to interpret, and
  // percent-encoding in them is not undone.
  EXPECT_EQ(ParseUrlTarget("http://H/Dir/A%20b.ISO?Sig=AbC%2F&x=1")->request_url,
            "http://h/Dir/A%20b.ISO?Sig=AbC%2F&x=1");
  EXPECT_EQ(ParseUrlTarget("http://h:8080/o=1%2Cp%3D2/f.bin")->request_url,
            "http://h:8080/o=1%2Cp%3D2/f.bin");
}

TEST(ParseUrlTargetTest, CredentialsStayOutOfTheCanonicalUrl) {
  Result<UrlTarget> target = ParseUrlTarget("HTTPS://alice:s3cret@Example.ORG:443/f");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->request_url, "https://example.org/f");
  EXPECT_EQ(target->user, "alice");
  EXPECT_EQ(target->password, "s3cret");
}

TEST(ParseUrlTargetTest, OnlyAbsoluteHttpUrls) {
  for (const char* url : {"file:///etc/passwd", "ftp://h/x", "gopher://h/x", "/relative/path",
                          "https://", "http://alice:s3cret@h:notaport/"}) {
    Result<UrlTarget> target = ParseUrlTarget(url);
    EXPECT_FALSE(target.ok()) << url;
    if (!target.ok()) {
      EXPECT_THAT(target.status().message(), Not(HasSubstr("s3cret"))) << url;
    }
  }
}

TEST(UrlSchemeTest, LowerCaseSchemeOrEmpty) {
  EXPECT_EQ(UrlScheme("HTTPS://h/x"), "https");
  EXPECT_EQ(UrlScheme("file:///etc/passwd"), "file");
  EXPECT_EQ(UrlScheme("ftp://h/x"), "ftp");
  EXPECT_EQ(UrlScheme("/relative"), "");
}

}  // namespace
}  // namespace rangefs::http
