#include "http/validators.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "fakes/printers.h"

namespace rangefs::http {
namespace {

// Sun, 06 Nov 1994 08:49:37 GMT: the example date of RFC 7231 section 7.1.1.1.
constexpr std::time_t kRfcExampleDate = 784111777;

RemoteFileInfo File(std::string etag, std::optional<std::time_t> last_modified,
                    uint64_t size = 1000) {
  RemoteFileInfo info;
  info.url = info.final_url = "https://h/f";
  info.size = size;
  info.etag = std::move(etag);
  info.last_modified = last_modified;
  return info;
}

TEST(IsStrongEntityTagTest, OnlyWellFormedUnprefixedTags) {
  EXPECT_TRUE(IsStrongEntityTag(R"("abc")"));
  EXPECT_TRUE(IsStrongEntityTag(R"("")"));
  EXPECT_TRUE(IsStrongEntityTag(R"("5f4a-1b2c")"));
  EXPECT_FALSE(IsStrongEntityTag(R"(W/"abc")"));
  EXPECT_FALSE(IsStrongEntityTag(R"(w/"abc")"));
  EXPECT_FALSE(IsStrongEntityTag(""));
  EXPECT_FALSE(IsStrongEntityTag("abc"));       // unquoted: some servers send it, RFC does not
  EXPECT_FALSE(IsStrongEntityTag(R"(")"));      // one quote
  EXPECT_FALSE(IsStrongEntityTag(R"("a"b")"));  // a quote inside
  EXPECT_FALSE(IsStrongEntityTag(R"("abc" )"));
}

TEST(RangePreconditionHeaderTest, StrongETagGoesInIfRange) {
  EXPECT_EQ(RangePreconditionHeader(File(R"("v1")", kRfcExampleDate)),
            std::optional<std::string>(R"(If-Range: "v1")"));
  EXPECT_EQ(RangePreconditionHeader(File(R"("v1")", std::nullopt)),
            std::optional<std::string>(R"(If-Range: "v1")"));
}

TEST(RangePreconditionHeaderTest, WithoutAStrongETagTheDateGoesInIfUnmodifiedSince) {
  const std::optional<std::string> expected = "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT";
  EXPECT_EQ(RangePreconditionHeader(File(R"(W/"v1")", kRfcExampleDate)), expected);
  EXPECT_EQ(RangePreconditionHeader(File("", kRfcExampleDate)), expected);
}

TEST(RangePreconditionHeaderTest, NoUsableValidatorNoHeader) {
  EXPECT_EQ(RangePreconditionHeader(File("", std::nullopt)), std::nullopt);
  // A weak tag is never sent: RFC 7233 section 3.2 forbids it in If-Range.
  EXPECT_EQ(RangePreconditionHeader(File(R"(W/"v1")", std::nullopt)), std::nullopt);
}

TEST(CheckSameVersionTest, MatchingOrAbsentValidatorsAreTheSameVersion) {
  const RemoteFileInfo file = File(R"("v1")", kRfcExampleDate, 1000);
  EXPECT_TRUE(CheckSameVersion(file, {}).ok());
  EXPECT_TRUE(
      CheckSameVersion(file, {.etag = R"("v1")", .last_modified = kRfcExampleDate, .size = 1000})
          .ok());
  EXPECT_TRUE(
      CheckSameVersion(file, {.etag = std::nullopt, .last_modified = std::nullopt, .size = 1000})
          .ok());
  // What the file does not have cannot differ.
  EXPECT_TRUE(CheckSameVersion(File("", std::nullopt, 1000),
                               {.etag = R"("x")", .last_modified = 5, .size = 1000})
                  .ok());
}

TEST(CheckSameVersionTest, AnyDifferenceIsAChangedRemote) {
  const RemoteFileInfo file = File(R"("v1")", kRfcExampleDate, 1000);
  const struct {
    ResponseIdentity got;
    const char* mentions;
  } cases[] = {
      {{.etag = R"("v2")", .last_modified = kRfcExampleDate, .size = 1000}, "ETag"},
      {{.etag = R"(W/"v1")", .last_modified = std::nullopt, .size = std::nullopt}, "ETag"},
      {{.etag = std::nullopt, .last_modified = kRfcExampleDate + 1, .size = std::nullopt},
       "Last-Modified"},
      {{.etag = R"("v1")", .last_modified = kRfcExampleDate, .size = 999}, "size"},
      {{.etag = std::nullopt, .last_modified = std::nullopt, .size = 1001}, "size"},
  };
  for (const auto& c : cases) {
    const Status status = CheckSameVersion(file, c.got);
    SCOPED_TRACE(c.mentions);
    EXPECT_EQ(status.code(), ErrorCode::kRemoteChanged);
    EXPECT_NE(status.message().find(c.mentions), std::string::npos) << status.message();
  }
}

}  // namespace
}  // namespace rangefs::http
