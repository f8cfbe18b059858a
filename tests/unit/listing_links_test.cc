// The link rules of HTML listings (issue 14): which links are entries, how names decode, what
// is skipped and said so, duplicates, limits, and pages that are no listing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes/printers.h"
#include "listing/listing_page.h"

namespace rangefs::listing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr std::string_view kDirectory = "http://example.org/pub/";

std::string Page(const std::vector<std::string>& hrefs) {
  std::string page =
      "<html><head><title>Index of /pub/</title></head><body><h1>Index of /pub/</h1>";
  for (const std::string& href : hrefs) page += "<a href=\"" + href + "\">x</a>\n";
  return page + "</body></html>";
}

Result<ParsedPage> Parse(const std::string& body, std::string_view page_url = kDirectory,
                         ListingLimits limits = {}) {
  return ParseListingPage(body, "text/html", page_url, kDirectory, limits);
}

std::vector<std::string> Names(const ParsedPage& page) {
  std::vector<std::string> names;
  for (const ListedEntry& entry : page.listing.entries) names.push_back(entry.name);
  return names;
}

TEST(ListingLinksTest, DropsSortParentSelfFragmentAndElsewhereLinksQuietly) {
  const Result<ParsedPage> page = Parse(Page({
      "?C=N;O=D",
      "?sort=size&order=asc",
      "../",
      "..",
      "/",
      "./",
      "",
      "#top",
      "kept.txt#part",
      "http://other.example/pub/x",
      "//other.example/pub/x",
      "https://example.org/pub/tls",
      "http://example.org:8080/pub/port",
      "mailto:someone@example.org",
      "javascript:void(0)",
      "/elsewhere/y",
      "deeper/z.txt",
      "/pub/sub/deeper",
      "kept.txt",
      "http://EXAMPLE.org:80/pub/abs",
  }));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(Names(*page), ElementsAre("kept.txt", "abs"));
  EXPECT_EQ(page->listing.entries[0].url, "http://example.org/pub/kept.txt");
  EXPECT_EQ(page->listing.entries[1].url, "http://example.org/pub/abs");
  EXPECT_THAT(page->skipped, IsEmpty());
}

TEST(ListingLinksTest, TrailingSlashMakesADirectory) {
  const Result<ParsedPage> page = Parse(Page({"dir/", "file", "/pub/abs-dir/"}));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_THAT(page->listing.entries, SizeIs(3));
  EXPECT_TRUE(page->listing.entries[0].is_directory);
  EXPECT_EQ(page->listing.entries[0].url, "http://example.org/pub/dir/");
  EXPECT_FALSE(page->listing.entries[1].is_directory);
  EXPECT_TRUE(page->listing.entries[2].is_directory);
  EXPECT_EQ(page->listing.entries[2].name, "abs-dir");
}

TEST(ListingLinksTest, NamesArePercentDecodedExactlyOnce) {
  const Result<ParsedPage> page =
      Parse(Page({"a%20b", "%2520", "%C3%A9", "%ff%FE.bin", "100%", "50%zz", "plus+sign"}));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(Names(*page),
              ElementsAre("a b", "%20", "\xC3\xA9", "\xFF\xFE.bin", "100%", "50%zz", "plus+sign"));
  // The URL keeps the encoding (normalised), so the request names the same bytes.
  EXPECT_EQ(page->listing.entries[1].url, "http://example.org/pub/%2520");
  EXPECT_EQ(page->listing.entries[3].url, "http://example.org/pub/%FF%FE.bin");
}

TEST(ListingLinksTest, InvalidUtf8StaysAsBytes) {
  const Result<ParsedPage> page = Parse(Page({"%C3%28", "%80abc"}));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(Names(*page), ElementsAre("\xC3(",
                                        "\x80"
                                        "abc"));
}

TEST(ListingLinksTest, RawSpacesAndUtf8InHrefsAreEncodedInTheUrl) {
  const Result<ParsedPage> page = Parse(Page({"a b.txt", "\xC3\xA9.txt"}));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(Names(*page), ElementsAre("a b.txt", "\xC3\xA9.txt"));
  EXPECT_EQ(page->listing.entries[0].url, "http://example.org/pub/a%20b.txt");
  EXPECT_EQ(page->listing.entries[1].url, "http://example.org/pub/%C3%A9.txt");
}

TEST(ListingLinksTest, BadNamesAreSkippedWithALine) {
  const Result<ParsedPage> page =
      Parse(Page({"a%2Fb", "%2e", "%2E%2E", "%00x", "ok", "%2e%2e/", ".%2E/"}));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(Names(*page), ElementsAre("ok"));
  ASSERT_THAT(page->skipped, SizeIs(6));
  EXPECT_THAT(page->skipped[0], HasSubstr("\"a/b\""));
  EXPECT_THAT(page->skipped[1], HasSubstr("dot name"));
  EXPECT_THAT(page->skipped[3], HasSubstr("NUL"));
  EXPECT_THAT(page->skipped[3], HasSubstr("\"\\x00x\""));
}

TEST(ListingLinksTest, AnEmptySegmentIsSkippedWithALine) {
  const Result<ParsedPage> page = Parse(Page({"/pub//", "ok"}));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(Names(*page), ElementsAre("ok"));
  ASSERT_THAT(page->skipped, SizeIs(1));
  EXPECT_THAT(page->skipped[0], HasSubstr("empty name"));
}

TEST(ListingLinksTest, DuplicatesKeepTheFirstAndSaySo) {
  // The same name three ways, and a directory of the same name as a file.
  const Result<ParsedPage> page = Parse(Page({"a%20b", "a b", "/pub/a%20b", "x", "x/"}));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(Names(*page), ElementsAre("a b", "x"));
  EXPECT_FALSE(page->listing.entries[1].is_directory);
  ASSERT_THAT(page->skipped, SizeIs(3));
  EXPECT_THAT(page->skipped[0], HasSubstr("duplicate of \"a b\""));
}

TEST(ListingLinksTest, ResolvesAgainstTheFinalPageUrlAndItsBase) {
  // Fetched as /pub (redirected to /pub/index.html): "a" is /pub/a.
  const Result<ParsedPage> page = Parse(Page({"a"}), "http://example.org/pub/index.html");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(Names(*page), ElementsAre("a"));
  // A page at /other/ whose links are relative names nothing under /pub/ ...
  const Result<ParsedPage> other = Parse(Page({"a"}), "http://example.org/other/");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_THAT(Names(*other), IsEmpty());
  // ... unless its <base href> says where they are.
  const Result<ParsedPage> based = Parse(
      "<html><head><base href=\"/pub/\"><title>Index of /pub/</title></head><body>"
      "<a href=\"b\">b</a></body></html>",
      "http://example.org/other/");
  ASSERT_TRUE(based.ok()) << based.status().ToString();
  EXPECT_THAT(Names(*based), ElementsAre("b"));
}

TEST(ListingLinksTest, DirectoryUrlWithoutTrailingSlashListsItsChildren) {
  const Result<ParsedPage> page = ParseListingPage(
      Page({"a", "b/"}), "text/html", "http://example.org/pub/", "http://example.org/pub", {});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(Names(*page), ElementsAre("a", "b"));
  EXPECT_EQ(page->listing.entries[0].url, "http://example.org/pub/a");
}

TEST(ListingLinksTest, DifferentlyEncodedDirectoryPathStillMatches) {
  const Result<ParsedPage> page = ParseListingPage(Page({"/%7Euser/sub%c3%a9/a"}), "text/html",
                                                   "http://example.org/~user/sub%C3%A9/",
                                                   "http://example.org/~user/sub%C3%A9/", {});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(Names(*page), ElementsAre("a"));
}

TEST(ListingLinksTest, MoreEntriesThanTheLimitIsLimitExceeded) {
  ListingLimits limits;
  limits.max_entries = 2;
  EXPECT_TRUE(Parse(Page({"a", "b"}), kDirectory, limits).ok());
  const Result<ParsedPage> page = Parse(Page({"a", "b", "c"}), kDirectory, limits);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), ErrorCode::kLimitExceeded);
  // Dropped links and duplicates do not count.
  EXPECT_TRUE(Parse(Page({"a", "?C=N;O=D", "../", "a", "b"}), kDirectory, limits).ok());
}

TEST(ListingLinksTest, SkippedLinesAreBounded) {
  std::vector<std::string> hrefs(kMaxSkippedLines + 10, "dup");
  const Result<ParsedPage> page = Parse(Page(hrefs));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_THAT(page->skipped, SizeIs(kMaxSkippedLines + 1));
  EXPECT_EQ(page->skipped.back(), "and 9 more skipped entries");
}

TEST(ListingLinksTest, PagesThatAreNoListingAreInvalidArgument) {
  for (const auto& [body, type] : std::vector<std::pair<std::string, std::string>>{
           {"just some text", "text/plain"},
           {"PK\x03\x04 binary", ""},
           {"", ""},
           {"", "text/html"},
           {"<html><head><title>Welcome</title></head><body><a href=\"/x\">x</a></body></html>",
            "text/html"},
           {"{\"error\": \"no\"}", "application/json"},
           {"[1, 2]", "application/json"},
           {"[{\"name\": 1", "application/json"},
           {"<?xml version=\"1.0\"?><html/>", "application/xml"},
           {"<unclosed", "text/xml"},
       }) {
    const Result<ParsedPage> page = ParseListingPage(body, type, kDirectory, kDirectory, {});
    ASSERT_FALSE(page.ok()) << type << ": " << body;
    EXPECT_EQ(page.status().code(), ErrorCode::kProtocolViolation) << body;
    EXPECT_THAT(page.status().message(), HasSubstr("not a directory listing")) << body;
  }
}

TEST(ListingLinksTest, AnEmptyIndexPageIsAnEmptyListing) {
  const Result<ParsedPage> page = Parse(Page({"../"}));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_THAT(page->listing.entries, IsEmpty());
}

TEST(ListingLinksTest, UrlsMustBeAbsolute) {
  EXPECT_EQ(ParseListingPage(Page({"a"}), "text/html", kDirectory, "/pub/", {}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseListingPage(Page({"a"}), "text/html", "pub/", kDirectory, {}).status().code(),
            ErrorCode::kInvalidArgument);
}

// 100,000 links: parsed in one linear pass (libxml2's tree, one resolution per link). No
// timing assertion; a quadratic step would show as a test that takes minutes.
TEST(ListingLinksTest, AHundredThousandLinks) {
  std::string body = "<html><head><title>Index of /pub/</title></head><body><pre>";
  for (int i = 0; i < 100000; ++i) {
    body += "<a href=\"file-" + std::to_string(i) + ".bin\">file</a>  14-Oct-2015 08:40  1\n";
  }
  body += "</pre></body></html>";
  const Result<ParsedPage> page = Parse(body);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_THAT(page->listing.entries, SizeIs(100000));
  EXPECT_EQ(page->listing.entries[99999].name, "file-99999.bin");
}

}  // namespace
}  // namespace rangefs::listing
