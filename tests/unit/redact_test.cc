#include "rangefs/redact.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace rangefs {
namespace {

struct RedactCase {
  std::string_view url;
  std::string_view redacted;
};

void ExpectRedacted(const std::vector<RedactCase>& cases) {
  for (const RedactCase& c : cases) {
    EXPECT_EQ(RedactUrl(c.url), c.redacted) << "for " << c.url;
  }
}

TEST(RedactUrlTest, LeavesUrlsWithoutUserinfoAlone) {
  ExpectRedacted({
      {"https://example.org/a/b.iso", "https://example.org/a/b.iso"},
      {"http://h:8080/x?page=abc&sort=def#frag", "http://h:8080/x?page=abc&sort=def#frag"},
      {"https://[::1]:8443/x", "https://[::1]:8443/x"},
      {"http://[fe80::1%25eth0]/x", "http://[fe80::1%25eth0]/x"},
      {"https://h", "https://h"},
      {"", ""},
      // '@' after the authority, in a path or a query, is not userinfo.
      {"https://proxy.golang.org/mod/@v/list", "https://proxy.golang.org/mod/@v/list"},
      {"https://registry.example/@scope/pkg.tgz", "https://registry.example/@scope/pkg.tgz"},
      {"https://h/x?mail=a@b.example", "https://h/x?mail=a@b.example"},
  });
}

TEST(RedactUrlTest, ReplacesThePassword) {
  ExpectRedacted({
      {"https://alice:s3cret@example.org/f", "https://alice:***@example.org/f"},
      {"http://alice:s3cret@h:8080/f?q=1#x", "http://alice:***@h:8080/f?q=1#x"},
      {"http://alice:@h/f", "http://alice:***@h/f"},
      {"http://alice:s3cret@h", "http://alice:***@h"},
      {"http://alice:s3cret@h?q", "http://alice:***@h?q"},
      {"HTTPS://alice:s3cret@h/f", "HTTPS://alice:***@h/f"},
  });
}

TEST(RedactUrlTest, RedactsAUserWithoutPasswordWhole) {
  // A lone user name is how tokens are often passed (https://TOKEN@host/).
  ExpectRedacted({
      {"https://ghp_token123@github.example/f", "https://***@github.example/f"},
      {"http://@h/f", "http://@h/f"},  // empty: nothing to hide
  });
}

TEST(RedactUrlTest, PercentEncodedUserinfo) {
  ExpectRedacted({
      {"https://al%40ice:p%40ss%3Aword@h/f", "https://al%40ice:***@h/f"},
      {"https://us%3Aer@h/f", "https://***@h/f"},
  });
}

TEST(RedactUrlTest, Ipv6Hosts) {
  ExpectRedacted({
      {"http://alice:pw@[::1]:8080/f", "http://alice:***@[::1]:8080/f"},
      {"http://alice:pw@[2001:db8::7]/f", "http://alice:***@[2001:db8::7]/f"},
      {"http://tok@[::1]/f", "http://***@[::1]/f"},
  });
}

TEST(RedactUrlTest, UrlsWithoutScheme) {
  ExpectRedacted({
      {"alice:pw@h/f", "alice:***@h/f"},
      {"//alice:pw@h/f", "//alice:***@h/f"},
      {"h/f", "h/f"},
      {"NAME=https://alice:pw@h/f", "NAME=https://alice:***@h/f"},
      {"alice:pw@h/f?next=http://x/", "alice:***@h/f?next=http://x/"},
      {"https:///alice:pw@h/f", "https:///alice:***@h/f"},
      {"https:\\\\alice:pw@h/f", "https:\\\\alice:***@h/f"},
  });
}

TEST(RedactUrlTest, UnencodedAtSignsInThePassword) {
  ExpectRedacted({
      {"https://alice:p@ss@h/f", "https://alice:***@h/f"},
      {"https://alice:p@s@s@h/f", "https://alice:***@h/f"},
  });
}

TEST(RedactUrlTest, MalformedUrlsNeverShowWhatLooksLikeUserinfo) {
  // A password with an unencoded '/', '?', '#' or blank cuts the authority short; what follows
  // up to the '@' is still hidden.
  ExpectRedacted({
      {"https://alice:pa/ss@h/f", "https://alice:***@h/f"},
      {"https://alice:pa?ss@h/f", "https://alice:***@h/f"},
      {"https://alice:pa#ss@h/f", "https://alice:***@h/f"},
      {"https://alice:pa ss@h/f", "https://alice:***@h/f"},
      {"https://alice:123/456@h/f", "https://alice:***@h/f"},
      {"https://alice:123?456@h/f", "https://alice:***@h/f"},
      {"https://alice:123#456@h/f", "https://alice:***@h/f"},
      {"https://alice:pa/ss/more@h/f", "https://alice:***@h/f"},
      {"https://a:b:c/d@h", "https://a:***@h"},
  });
}

TEST(RedactUrlTest, GarbageIsReturnedOrRedactedNeverLeaking) {
  const std::vector<std::string_view> secrets = {"s3cret", "pa/ss", "456"};
  const std::vector<std::string_view> garbage = {
      "://alice:s3cret@",       "alice:s3cret@",           ":s3cret@",
      "https://:s3cret@",       "https://alice:s3cret@@@", "x://alice:pa/ss@",
      "https://alice:123/456@", "https:///alice:s3cret@h",
  };
  for (const std::string_view text : garbage) {
    const std::string redacted = RedactUrl(text);
    for (const std::string_view secret : secrets) {
      EXPECT_EQ(redacted.find(secret), std::string::npos) << text << " -> " << redacted;
    }
  }
  // Nothing that looks like a userinfo: unchanged.
  EXPECT_EQ(RedactUrl("not a url"), "not a url");
  EXPECT_EQ(RedactUrl("https://"), "https://");
  EXPECT_EQ(RedactUrl("@"), "@");
  EXPECT_EQ(RedactUrl("file:///etc/passwd"), "file:///etc/passwd");
}

TEST(RedactUrlsInTest, ReplacesEveryOccurrenceOfEachUrl) {
  const std::vector<std::string> urls = {"https://alice:pw@h/f", "http://h/plain"};
  EXPECT_EQ(
      RedactUrlsIn("https://alice:pw@h/f: bad, again https://alice:pw@h/f; http://h/plain", urls),
      "https://alice:***@h/f: bad, again https://alice:***@h/f; http://h/plain");
  EXPECT_EQ(RedactUrlsIn("nothing to see", urls), "nothing to see");
  EXPECT_EQ(RedactUrlsIn("x", {}), "x");
}

TEST(RedactUrlsInTest, OperandAndItsUrl) {
  const std::vector<std::string> urls = {"n=https://alice:pw@h/f", "https://alice:pw@h/f"};
  EXPECT_EQ(RedactUrlsIn("n=https://alice:pw@h/f: file name ...", urls),
            "n=https://alice:***@h/f: file name ...");
  EXPECT_EQ(RedactUrlsIn("https://alice:pw@h/f: no file name", urls),
            "https://alice:***@h/f: no file name");
}

}  // namespace
TEST(RedactUrlTest, SecretQueryValuesAreHiddenTheirNamesKept) {
  const struct {
    const char* url;
    const char* shown;
  } cases[] = {
      {"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F1&"
       "X-Amz-Signature=abc123&X-Amz-Expires=60",
       "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=***&"
       "X-Amz-Signature=***&X-Amz-Expires=60"},
      {"https://a.blob.core.windows.net/c/f?sv=2020&sig=XYZ%3D#frag",
       "https://a.blob.core.windows.net/c/f?sv=2020&sig=***#frag"},
      {"https://h/f?key=AIza&alt=media", "https://h/f?key=***&alt=media"},
      {"https://alice:pw@h/f?access_token=t", "https://alice:***@h/f?access_token=***"},
      {"https://h/f?page=2&flag", "https://h/f?page=2&flag"},
      {"https://h/f?", "https://h/f?"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(RedactUrl(c.url), c.shown) << c.url;
  }
}

}  // namespace rangefs
