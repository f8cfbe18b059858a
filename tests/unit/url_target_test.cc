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
  EXPECT_EQ(target->url_without_userinfo, "HTTPS://Example.ORG/a/b.iso?x=1");  // as given
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
  EXPECT_EQ(target->url_without_userinfo, "http://h:8080/f?q=1");
  EXPECT_EQ(target->origin, "http://h:8080");

  target = ParseUrlTarget("https://token@h/f");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->user, "token");
  EXPECT_FALSE(target->password);
  EXPECT_EQ(target->url_without_userinfo, "https://h/f");
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
