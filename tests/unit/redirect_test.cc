#include "http/redirect.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rangefs/http_range_source.h"
#include "rangefs/status.h"

namespace rangefs::http {
namespace {

const std::string kAnswer = "HTTP 302 Found";

TEST(RangeRedirectTest, UsableLocationIsToBeFollowedByTheCaller) {
  const Status status = RangeRedirect(HttpOptions{}, "https://front/f", kAnswer,
                                      std::string("https://store/f?sig=1"));
  EXPECT_EQ(status.code(), ErrorCode::kRedirected);
  EXPECT_EQ(status.redirect_to(), "https://store/f?sig=1");
  EXPECT_NE(status.message().find("302"), std::string::npos) << status.message();
  EXPECT_FALSE(IsRetryable(status)) << "a redirect is followed, not retried";
}

TEST(RangeRedirectTest, OnlyHttpAndHttpsAreFollowed) {
  for (const char* location : {"file:///etc/passwd", "ftp://store/f", "gopher://store/f"}) {
    SCOPED_TRACE(location);
    const Status status =
        RangeRedirect(HttpOptions{}, "http://front/f", kAnswer, std::string(location));
    EXPECT_EQ(status.code(), ErrorCode::kHttpStatus);
    EXPECT_TRUE(status.redirect_to().empty());
    EXPECT_NE(status.message().find("only http and https"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find(location), std::string::npos) << "names the target";
  }
}

TEST(RangeRedirectTest, HttpsToHttpOnlyWhenAllowed) {
  HttpOptions options;
  const Status refused =
      RangeRedirect(options, "https://front/f", kAnswer, std::string("http://store/f"));
  EXPECT_EQ(refused.code(), ErrorCode::kHttpStatus);
  EXPECT_NE(refused.message().find("--allow-insecure-redirect"), std::string::npos)
      << refused.message();
  options.allow_insecure_redirect = true;
  const Status allowed =
      RangeRedirect(options, "https://front/f", kAnswer, std::string("http://store/f"));
  EXPECT_EQ(allowed.code(), ErrorCode::kRedirected);
  EXPECT_EQ(allowed.redirect_to(), "http://store/f");
  // http to https needs no permission.
  EXPECT_EQ(RangeRedirect(HttpOptions{}, "http://front/f", kAnswer, std::string("https://store/f"))
                .code(),
            ErrorCode::kRedirected);
}

TEST(RangeRedirectTest, MissingLocationEndsTheRead) {
  for (const std::optional<std::string>& location :
       {std::optional<std::string>(), std::optional<std::string>(""),
        std::optional<std::string>("  "), std::optional<std::string>("\r\n")}) {
    const Status status = RangeRedirect(HttpOptions{}, "http://front/f", kAnswer, location);
    EXPECT_EQ(status.code(), ErrorCode::kHttpStatus);
    EXPECT_EQ(status.message(), "HTTP 302 Found to a range request without a usable Location");
  }
  const Status bad =
      RangeRedirect(HttpOptions{}, "http://front/f", kAnswer, std::string("http://[::1/x"));
  EXPECT_EQ(bad.code(), ErrorCode::kHttpStatus);
  EXPECT_NE(bad.message().find("unusable Location"), std::string::npos) << bad.message();
}

TEST(RangeRedirectTest, RelativeLocationIsResolvedAgainstTheUrlAsked) {
  const Status status = RangeRedirect(HttpOptions{}, "https://front:8443/dir/f?x=1", kAnswer,
                                      std::string("../store/f?sig=1"));
  EXPECT_EQ(status.code(), ErrorCode::kRedirected);
  EXPECT_EQ(status.redirect_to(), "https://front:8443/store/f?sig=1");
}

TEST(ResolveLocationTest, ResolvesAsRfc3986Says) {
  const std::string base = "http://front/a/b/f?q=1";
  for (const auto& [location, expected] : std::vector<std::pair<std::string, std::string>>{
           {"https://store/f", "https://store/f"},
           {"/x/y", "http://front/x/y"},
           {"g", "http://front/a/b/g"},
           {"../g?s=2", "http://front/a/g?s=2"},
           {"//other:81/p", "http://other:81/p"},
           {"?sig=3", "http://front/a/b/f?sig=3"},
           {"file:///etc/passwd", "file:///etc/passwd"}}) {
    SCOPED_TRACE(location);
    const Result<std::string> resolved = ResolveLocation(base, location);
    ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
    EXPECT_EQ(*resolved, expected);
  }
  EXPECT_FALSE(ResolveLocation(base, std::string("http://x/\0y", 12)).ok());
}

TEST(RangeRedirectTest, CredentialsInEitherUrlAreNotShown) {
  const Status status = RangeRedirect(HttpOptions{}, "https://front/f", kAnswer,
                                      std::string("https://alice:hunter2@store/f"));
  EXPECT_EQ(status.code(), ErrorCode::kRedirected);
  EXPECT_EQ(status.message().find("hunter2"), std::string::npos) << status.message();
  const Status refused = RangeRedirect(HttpOptions{}, "https://front/f", kAnswer,
                                       std::string("file://alice:hunter2@store/f"));
  EXPECT_EQ(refused.message().find("hunter2"), std::string::npos) << refused.message();
}

TEST(RangeRedirectTest, TheHopLimitIsTheCallersButCheckRedirectKeepsItForTheProbe) {
  EXPECT_TRUE(CheckRedirect(HttpOptions{}, "http://a/", "http://b/", kMaxRedirects - 1).ok());
  const Status over = CheckRedirect(HttpOptions{}, "http://a/", "http://b/", kMaxRedirects);
  EXPECT_EQ(over.code(), ErrorCode::kHttpStatus);
  EXPECT_NE(over.message().find("more than 10 redirects"), std::string::npos);
}

}  // namespace
}  // namespace rangefs::http
