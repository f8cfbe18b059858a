#include "http/request.h"

#include <gtest/gtest.h>

#include <string>

#include "http/url_target.h"
#include "rangefs/http_range_source.h"

namespace rangefs::http {
namespace {

// Every request of one origin names it alike, wherever its URL came from (the user, a
// redirect, a listing): caches key their entries on Host, port included.
TEST(RequestForTest, UrlIsCanonicalAndWithoutCredentials) {
  const HttpOptions options;
  const RequestSetup setup(options);
  Result<UrlTarget> original = ParseUrlTarget("HTTP://alice:pw@Example.COM:80/x");
  ASSERT_TRUE(original.ok());

  Result<Request> as_given = setup.RequestFor(*original, "HTTP://alice:pw@Example.COM:80/x");
  ASSERT_TRUE(as_given.ok());
  EXPECT_EQ(as_given->url, "http://example.com/x");
  EXPECT_TRUE(as_given->credentials);
  EXPECT_EQ(as_given->user, "alice");
  EXPECT_EQ(as_given->password, "pw");

  Result<Request> plain = setup.RequestFor(*original, "http://example.com/x");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->url, as_given->url);
  EXPECT_TRUE(plain->credentials) << "the same origin, spelled otherwise";
}

TEST(RequestForTest, AnotherOriginGetsNoCredentials) {
  const HttpOptions options;
  const RequestSetup setup(options);
  Result<UrlTarget> original = ParseUrlTarget("http://alice:pw@example.com/x");
  ASSERT_TRUE(original.ok());
  for (const char* url :
       {"http://Example.com:8080/x", "https://example.com/x", "http://other.example.com/x"}) {
    Result<Request> request = setup.RequestFor(*original, url);
    ASSERT_TRUE(request.ok()) << url;
    EXPECT_FALSE(request->credentials) << url;
    EXPECT_FALSE(request->user) << url;
    EXPECT_FALSE(request->password) << url;
  }
  EXPECT_EQ(setup.RequestFor(*original, "http://Example.com:8080/x")->url,
            "http://example.com:8080/x");
}

}  // namespace
}  // namespace rangefs::http
