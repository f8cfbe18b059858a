// The machine-readable listings beyond the saved pages: JSON and nginx XML edge cases, S3
// ListObjectsV2 across two pages, XML that tries to expand, and the dates of each format.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/printers.h"
#include "listing/listing_page.h"
#include "listing/listing_time.h"

namespace rangefs::listing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr std::string_view kDirectory = "http://example.org/pub/";
constexpr std::string_view kS3List = "http://127.0.0.1:9000/?list-type=2&prefix=data/&delimiter=/";

std::string ReadData(const std::string& name) {
  std::ifstream file(std::string(RANGEFS_TEST_DATA_DIR) + "/listings/" + name, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

Result<ParsedPage> Parse(std::string_view body, std::string_view type,
                         std::string_view directory = kDirectory) {
  return ParseListingPage(body, type, directory, directory, {});
}

std::vector<std::string> Names(const ParsedPage& page) {
  std::vector<std::string> names;
  for (const ListedEntry& entry : page.listing.entries) names.push_back(entry.name);
  return names;
}

TEST(ListingJsonTest, NamesAreRawAndEncodedIntoTheUrl) {
  const Result<ParsedPage> page = Parse(
      R"([{"name":"a%20b","type":"file","size":1},{"name":"x?y#z;w","type":"file"},)"
      R"({"name":"d i r","type":"directory","size":4096,"mtime":"Thu, 15 Oct 2015 08:40:53 GMT"}])",
      "application/json");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->listing.format, "nginx-json");
  ASSERT_THAT(page->listing.entries, SizeIs(3));
  EXPECT_EQ(page->listing.entries[0].name, "a%20b");  // not decoded: JSON names are raw
  EXPECT_EQ(page->listing.entries[0].url, "http://example.org/pub/a%2520b");
  EXPECT_EQ(page->listing.entries[0].size, 1u);
  EXPECT_EQ(page->listing.entries[1].url, "http://example.org/pub/x%3Fy%23z%3Bw");
  EXPECT_FALSE(page->listing.entries[1].size);
  EXPECT_EQ(page->listing.entries[2].url, "http://example.org/pub/d%20i%20r/");
  EXPECT_FALSE(page->listing.entries[2].size);  // directories never carry one
  EXPECT_EQ(page->listing.entries[2].mtime, 1444898453);
}

TEST(ListingJsonTest, BadEntriesAreSkippedWithALine) {
  const Result<ParsedPage> page = Parse(
      R"([{"name":"ok","type":"file","size":-1,"mtime":"yesterday"},7,{"type":"file"},)"
      R"({"name":"sock","type":"other"},{"name":"a/b","type":"file"},{"name":"..","type":"directory"},)"
      R"({"name":"ok","type":"directory"},{"name":"big","type":"file","size":1.5}])",
      "application/json");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(Names(*page), ElementsAre("ok", "big"));
  EXPECT_FALSE(page->listing.entries[0].size);
  EXPECT_FALSE(page->listing.entries[0].mtime);
  EXPECT_FALSE(page->listing.entries[1].size);
  EXPECT_THAT(page->skipped, SizeIs(6));
}

TEST(ListingJsonTest, CaddyDirectoriesLoseTheirSlashAndSize) {
  const Result<ParsedPage> page = Parse(
      R"([{"name":"d/","size":4096,"url":"./d/","mod_time":"2015-10-15T10:40:53.123+02:00","is_dir":true},)"
      R"({"name":"f","size":3,"url":"./f","mod_time":"bad","is_dir":false},{"name":"g"}])",
      "application/json");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->listing.format, "caddy-json");
  ASSERT_THAT(page->listing.entries, SizeIs(2));
  EXPECT_EQ(page->listing.entries[0],
            (ListedEntry{"d", "http://example.org/pub/d/", true, std::nullopt, 1444898453}));
  EXPECT_EQ(page->listing.entries[1],
            (ListedEntry{"f", "http://example.org/pub/f", false, 3, std::nullopt}));
  EXPECT_THAT(page->skipped, ElementsAre(HasSubstr("is_dir")));
}

TEST(ListingJsonTest, AnEmptyArrayIsAnEmptyListing) {
  const Result<ParsedPage> page = Parse("[\n]", "application/json");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->listing.format, "json");
  EXPECT_THAT(page->listing.entries, IsEmpty());
}

TEST(ListingJsonTest, DeepNestingFailsCleanly) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const Result<ParsedPage> page = Parse(deep, "application/json");
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), ErrorCode::kProtocolViolation);
}

TEST(ListingXmlTest, NginxXmlNamesAreUnescapedAndRaw) {
  const Result<ParsedPage> page = Parse(
      "<?xml version=\"1.0\"?>\n<list>\n<file mtime=\"2015-10-14T08:40:53Z\" size=\"8\">a&amp;b "
      "&lt;c&gt; %41</file>\n<other mtime=\"2015-10-14T08:40:53Z\">fifo</other>\n"
      "<directory mtime=\"junk\">d</directory>\n</list>\n",
      "text/xml");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->listing.format, "nginx-xml");
  ASSERT_THAT(page->listing.entries, SizeIs(2));
  EXPECT_EQ(page->listing.entries[0],
            (ListedEntry{"a&b <c> %41", "http://example.org/pub/a%26b%20%3Cc%3E%20%2541", false, 8,
                         1444812053}));
  EXPECT_EQ(page->listing.entries[1],
            (ListedEntry{"d", "http://example.org/pub/d/", true, std::nullopt, std::nullopt}));
  EXPECT_THAT(page->skipped, ElementsAre(HasSubstr("fifo")));
}

// Billion laughs: ten levels of ten references. Refused (a DTD, and libxml2's own amplification
// check) without being expanded: the test finishes at once and in little memory.
TEST(ListingXmlTest, AnXmlBombIsRefusedNotExpanded) {
  std::string bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE list [\n<!ENTITY lol0 \"lol\">\n";
  for (int level = 1; level <= 9; ++level) {
    bomb += "<!ENTITY lol" + std::to_string(level) + " \"";
    for (int i = 0; i < 10; ++i) bomb += "&lol" + std::to_string(level - 1) + ";";
    bomb += "\">\n";
  }
  bomb += "]>\n<list><file size=\"1\">&lol9;</file></list>\n";
  for (const std::string_view type : {"text/xml", "application/xml", ""}) {
    const Result<ParsedPage> page = Parse(bomb, type);
    ASSERT_FALSE(page.ok()) << type;
    EXPECT_EQ(page.status().code(), ErrorCode::kProtocolViolation);
  }
  // The same entities in an S3 answer, and one external entity: refused as well.
  std::string s3_bomb = bomb;
  s3_bomb.replace(
      s3_bomb.find("<list><file size=\"1\">&lol9;</file></list>"), 41,
      "<ListBucketResult><Contents><Key>data/&lol9;</Key></Contents></ListBucketResult>");
  EXPECT_EQ(Parse(s3_bomb, "application/xml", kS3List).status().code(),
            ErrorCode::kProtocolViolation);
  const std::string external =
      "<?xml version=\"1.0\"?><!DOCTYPE list [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
      "<list><file>&x;</file></list>";
  EXPECT_EQ(Parse(external, "text/xml").status().code(), ErrorCode::kProtocolViolation);
}

TEST(ListingS3Test, TwoPagesWithAContinuationToken) {
  const Result<ParsedPage> first =
      ParseListingPage(ReadData("s3-list-v2.page1.xml"), "application/xml", kS3List, kS3List, {});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->listing.format, "s3-list-v2");
  EXPECT_THAT(
      first->listing.entries,
      ElementsAre(
          ListedEntry{"archive.zip", "http://127.0.0.1:9000/data/archive.zip", false, 125,
                      1444725653},
          ListedEntry{"with space.txt", "http://127.0.0.1:9000/data/with%20space.txt", false, 1500,
                      1444833653},
          ListedEntry{"sub dir",
                      "http://127.0.0.1:9000/?list-type=2&prefix=data/sub%20dir/&delimiter=/", true,
                      std::nullopt, std::nullopt},
          ListedEntry{"zeta", "http://127.0.0.1:9000/?list-type=2&prefix=data/zeta/&delimiter=/",
                      true, std::nullopt, std::nullopt}));
  EXPECT_THAT(first->skipped, IsEmpty());  // the marker object "data/" is no entry
  ASSERT_TRUE(first->next_page_url);
  EXPECT_EQ(*first->next_page_url,
            "http://127.0.0.1:9000/?list-type=2&prefix=data/&delimiter=/&continuation-token="
            "1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D");

  const Result<ParsedPage> second = ParseListingPage(
      ReadData("s3-list-v2.page2.xml"), "application/xml", *first->next_page_url, kS3List, {});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->next_page_url);
  EXPECT_THAT(
      second->listing.entries,
      ElementsAre(
          ListedEntry{"100%.txt", "http://127.0.0.1:9000/data/100%25.txt", false, 8, 1444812053},
          ListedEntry{"a#b.txt", "http://127.0.0.1:9000/data/a%23b.txt", false, 5, 1444815653},
          ListedEntry{"a+b&c.txt", "http://127.0.0.1:9000/data/a%2Bb%26c.txt", false, 3145733,
                      1444819253},
          ListedEntry{"\xC3\xA9.txt", "http://127.0.0.1:9000/data/%C3%A9.txt", false, 20,
                      1444837253}));
}

TEST(ListingS3Test, SubdirectoryUrlKeepsOtherParametersAndDropsTheToken) {
  const std::string body =
      "<ListBucketResult><CommonPrefixes><Prefix>a b/c+d/</Prefix></CommonPrefixes>"
      "<IsTruncated>false</IsTruncated></ListBucketResult>";
  const std::string list =
      "http://h.example/bucket?max-keys=10&prefix=a+b/"
      "&continuation-token=zz&list-type=2&delimiter=%2F";
  const Result<ParsedPage> page = ParseListingPage(body, "application/xml", list, list, {});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_THAT(page->listing.entries, SizeIs(1));
  EXPECT_EQ(page->listing.entries[0].name, "c+d");
  EXPECT_EQ(page->listing.entries[0].url,
            "http://h.example/bucket?max-keys=10&prefix=a%20b/c%2Bd/&list-type=2&delimiter=%2F");
}

TEST(ListingS3Test, PathStyleFilesAndKeysOutsideThePrefix) {
  const std::string body =
      "<ListBucketResult><Contents><Key>p/x y</Key><Size>3</Size></Contents>"
      "<Contents><Key>q/other</Key></Contents><Contents><Key>p/deep/er</Key></Contents>"
      "</ListBucketResult>";
  const std::string list = "http://h.example/bucket?list-type=2&prefix=p/";
  const Result<ParsedPage> page = ParseListingPage(body, "application/xml", list, list, {});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_THAT(page->listing.entries, SizeIs(1));
  EXPECT_EQ(page->listing.entries[0].url, "http://h.example/bucket/p/x%20y");
  EXPECT_THAT(page->skipped, SizeIs(2));
}

TEST(ListingS3Test, TruncatedWithoutATokenOrUrlEncodedKeysIsRefused) {
  EXPECT_EQ(ParseListingPage("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
                             "application/xml", kS3List, kS3List, {})
                .status()
                .code(),
            ErrorCode::kProtocolViolation);
  EXPECT_EQ(
      ParseListingPage("<ListBucketResult><EncodingType>url</EncodingType></ListBucketResult>",
                       "application/xml", kS3List, kS3List, {})
          .status()
          .code(),
      ErrorCode::kProtocolViolation);
}

TEST(ListingTimeTest, Rfc3339) {
  EXPECT_EQ(ParseRfc3339("2015-10-14T08:40:53Z"), 1444812053);
  EXPECT_EQ(ParseRfc3339(" 2015-10-14T08:40:53.000Z"), 1444812053);
  EXPECT_EQ(ParseRfc3339("2015-10-14t10:40:53.999999999+02:00"), 1444812053);
  EXPECT_EQ(ParseRfc3339("2015-10-14 03:40:53-05:00"), 1444812053);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2016-02-29T00:00:00Z"), 1456704000);
  for (const std::string_view bad :
       {"", "2015-10-14", "2015-10-14T08:40:53", "2015-02-29T00:00:00Z", "2015-13-01T00:00:00Z",
        "2015-10-14T24:00:00Z", "2015-10-14T08:40:53.Z", "2015-10-14T08:40:53Zjunk",
        "2015-10-14T08:40:53+0200"}) {
    EXPECT_FALSE(ParseRfc3339(bad)) << bad;
  }
}

TEST(ListingTimeTest, NginxHtml) {
  EXPECT_EQ(ParseNginxHtmlTime("14-Oct-2015", "08:40"), 1444812000);
  EXPECT_FALSE(ParseNginxHtmlTime("31-Feb-2015", "08:40"));
  EXPECT_FALSE(ParseNginxHtmlTime("14-oct-2015", "08:40"));
  EXPECT_FALSE(ParseNginxHtmlTime("14-Oct-2015", "8:40"));
}

}  // namespace
}  // namespace rangefs::listing
