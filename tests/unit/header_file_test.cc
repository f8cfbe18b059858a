#include "rangefs/header_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace rangefs {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseHeaderLineTest, NameAndTrimmedValue) {
  Result<HttpHeader> header = ParseHeaderLine("Authorization: Bearer abc.def");
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(*header, (HttpHeader{"Authorization", "Bearer abc.def"}));

  header = ParseHeaderLine("X-Api-Key:\t  k  \t");
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(*header, (HttpHeader{"X-Api-Key", "k"}));

  header = ParseHeaderLine("Cookie: a=1; b=2:3");  // ':' in the value is fine
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->value, "a=1; b=2:3");

  header = ParseHeaderLine("X-Empty:");
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(*header, (HttpHeader{"X-Empty", ""}));

  header = ParseHeaderLine("X-Utf8: caf\xc3\xa9");  // obs-text bytes are allowed
  ASSERT_TRUE(header.ok());
}

TEST(ParseHeaderLineTest, MalformedLinesFailWithoutQuotingThem) {
  const std::vector<std::string_view> bad = {
      "Bearer SECRET-VALUE",           // no ':'
      ": SECRET-VALUE",                // no name
      "Auth orization: SECRET-VALUE",  // blank in the name
      " Authorization: SECRET-VALUE",  // leading blank (obsolete line folding)
      "Auth(x): SECRET-VALUE",         // not a token
      "Authorization: SECRET-VALUE\r",
      "Authorization: SECRET\nVALUE",
      "Authorization: SECRET\x01VALUE",
      "Authorization: SECRET\x7fVALUE",
      std::string_view("Authorization: SECRET\0VALUE", 27),
  };
  for (const std::string_view line : bad) {
    Result<HttpHeader> header = ParseHeaderLine(line);
    ASSERT_FALSE(header.ok()) << line;
    EXPECT_EQ(header.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(header.status().message(), Not(HasSubstr("SECRET"))) << line;
    EXPECT_THAT(header.status().message(), Not(HasSubstr("Auth"))) << line;
  }
}

TEST(ParseHeaderLineTest, HeadersRangefsSetsItselfAreRefused) {
  for (const std::string_view line :
       {"Range: bytes=0-", "range: bytes=0-", "If-Range: \"x\"", "If-Match: *", "If-None-Match: *",
        "If-Modified-Since: x", "IF-UNMODIFIED-SINCE: x", "Accept-Encoding: gzip", "TE: gzip",
        "Content-Length: 5", "Transfer-Encoding: chunked", "Connection: close", "Upgrade: h2c"}) {
    Result<HttpHeader> header = ParseHeaderLine(line);
    ASSERT_FALSE(header.ok()) << line;
    EXPECT_THAT(header.status().message(), HasSubstr("rangefs sets")) << line;
  }
  // Near misses are fine.
  EXPECT_TRUE(ParseHeaderLine("X-Range: 1").ok());
  EXPECT_TRUE(ParseHeaderLine("User-Agent: mine").ok());
  EXPECT_TRUE(ParseHeaderLine("Host: vhost.example").ok());
}

TEST(ParseHeaderFileTest, SkipsBlankAndCommentLines) {
  Result<std::vector<HttpHeader>> headers = ParseHeaderFile(
      "# credentials for the mirror\n"
      "\n"
      "Authorization: Bearer abc\r\n"
      "   \t\n"
      "  # indented comment\n"
      "X-Two: 2");  // no newline at the end
  ASSERT_TRUE(headers.ok()) << headers.status().ToString();
  EXPECT_EQ(*headers, (std::vector<HttpHeader>{{"Authorization", "Bearer abc"}, {"X-Two", "2"}}));

  headers = ParseHeaderFile("");
  ASSERT_TRUE(headers.ok());
  EXPECT_TRUE(headers->empty());
}

TEST(ParseHeaderFileTest, ErrorNamesTheLineNumberNotItsText) {
  Result<std::vector<HttpHeader>> headers =
      ParseHeaderFile("# ok\nX-One: 1\n\nBearer SECRET-VALUE\nX-Two: 2\n");
  ASSERT_FALSE(headers.ok());
  EXPECT_EQ(headers.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(headers.status().message(), HasSubstr("line 4:"));
  EXPECT_THAT(headers.status().message(), Not(HasSubstr("SECRET")));
  EXPECT_THAT(headers.status().message(), Not(HasSubstr("Bearer")));

  headers = ParseHeaderFile("X-One: 1\r\nRange: bytes=0-0\r\n");
  ASSERT_FALSE(headers.ok());
  EXPECT_THAT(headers.status().message(), HasSubstr("line 2:"));
}

TEST(CurlHeaderLineTest, EmptyValueUsesTheSemicolonForm) {
  EXPECT_EQ(CurlHeaderLine({"Authorization", "Bearer x"}), "Authorization: Bearer x");
  EXPECT_EQ(CurlHeaderLine({"X-Empty", ""}), "X-Empty;");
}

}  // namespace
}  // namespace rangefs
