// The listing parsers against pages saved from real servers (tests/data/listings, README.md
// there says how each was captured): every page of the same tree gives the same names and
// URLs, and the sizes and mtimes each format states exactly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/printers.h"
#include "listing/listing_page.h"

namespace rangefs {

inline void PrintTo(const ListedEntry& entry, std::ostream* os) {
  *os << "{\"" << entry.name << "\", " << entry.url << (entry.is_directory ? ", dir" : ", file")
      << ", size " << (entry.size ? std::to_string(*entry.size) : "-") << ", mtime "
      << (entry.mtime ? std::to_string(*entry.mtime) : "-") << "}";
}

namespace listing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

constexpr std::string_view kDirectory = "http://127.0.0.1:8080/";
// Wed, 14 Oct 2015 08:40:53 GMT: the tree's files are this plus whole hours (capture.py).
constexpr std::time_t kBase = 1444812053;
constexpr std::time_t kHour = 3600;

std::string ReadData(const std::string& name) {
  std::ifstream file(std::string(RANGEFS_TEST_DATA_DIR) + "/listings/" + name, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  EXPECT_TRUE(file.good() || file.eof()) << name;
  return text.str();
}

// What a format states about the tree: exact sizes, mtimes to the second or to the minute.
enum class Facts { kNone, kExact, kMinutes, kExactNoDirectoryTime };

struct TreeEntry {
  const char* name;
  const char* url;
  bool is_directory;
  uint64_t size;
  std::time_t mtime;
};

const std::vector<TreeEntry>& Tree() {
  static const std::vector<TreeEntry> tree = {
      {"sub dir", "sub%20dir/", true, 0, kBase + 24 * kHour},
      {"100%.txt", "100%25.txt", false, 8, kBase},
      {"a#b.txt", "a%23b.txt", false, 5, kBase + kHour},
      {"archive.zip", "archive.zip", false, 125, kBase - 24 * kHour},
      {"big.bin", "big.bin", false, 3145733, kBase + 2 * kHour},
      {"hello.txt", "hello.txt", false, 6, kBase + 3 * kHour},
      {"with space.txt", "with%20space.txt", false, 1500, kBase + 6 * kHour},
      {"\xC3\xA9.txt", "%C3%A9.txt", false, 20, kBase + 7 * kHour},
  };
  return tree;
}

// The tree's entries as a format states them, in `order` (names).
std::vector<ListedEntry> Expected(Facts facts, const std::vector<std::string>& order) {
  std::vector<ListedEntry> entries;
  for (const std::string& name : order) {
    for (const TreeEntry& tree : Tree()) {
      if (name != tree.name) continue;
      ListedEntry entry{tree.name, std::string(kDirectory) + tree.url, tree.is_directory,
                        std::nullopt, std::nullopt};
      if (facts != Facts::kNone) {
        if (!tree.is_directory) entry.size = tree.size;
        entry.mtime = facts == Facts::kMinutes ? tree.mtime - tree.mtime % 60 : tree.mtime;
      }
      entries.push_back(entry);
    }
  }
  return entries;
}

const std::vector<std::string> kDirectoriesFirst = {"sub dir",        "100%.txt",    "a#b.txt",
                                                    "archive.zip",    "big.bin",     "hello.txt",
                                                    "with space.txt", "\xC3\xA9.txt"};
const std::vector<std::string> kByName = {"100%.txt",  "a#b.txt", "archive.zip",    "big.bin",
                                          "hello.txt", "sub dir", "with space.txt", "\xC3\xA9.txt"};

struct SavedPage {
  const char* file;
  const char* content_type;  // as the server sent it
  const char* format;
  Facts facts;
  const std::vector<std::string>* order;
};

class SavedPageTest : public ::testing::TestWithParam<SavedPage> {};

TEST_P(SavedPageTest, GivesTheTreeAsTheFormatStatesIt) {
  const SavedPage& page = GetParam();
  const Result<ParsedPage> parsed =
      ParseListingPage(ReadData(page.file), page.content_type, kDirectory, kDirectory, {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->listing.format, page.format);
  EXPECT_THAT(parsed->listing.entries, ElementsAreArray(Expected(page.facts, *page.order)));
  EXPECT_THAT(parsed->skipped, IsEmpty());
  EXPECT_FALSE(parsed->next_page_url);
}

// Sniffing: with no Content-Type at all, the content alone names the same format.
TEST_P(SavedPageTest, ContentAloneNamesTheSameFormat) {
  const SavedPage& page = GetParam();
  const Result<ParsedPage> parsed =
      ParseListingPage(ReadData(page.file), "", kDirectory, kDirectory, {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->listing.format, page.format);
  EXPECT_EQ(parsed->listing.entries.size(), Tree().size());
}

INSTANTIATE_TEST_SUITE_P(
    RealServers, SavedPageTest,
    ::testing::Values(SavedPage{"nginx-html.html", "text/html", "nginx-html", Facts::kMinutes,
                                &kDirectoriesFirst},
                      SavedPage{"nginx-json.json", "application/json", "nginx-json", Facts::kExact,
                                &kDirectoriesFirst},
                      SavedPage{"nginx-xml.xml", "text/xml; charset=utf-8", "nginx-xml",
                                Facts::kExact, &kDirectoriesFirst},
                      SavedPage{"apache-plain.html", "text/html;charset=ISO-8859-1", "apache-html",
                                Facts::kNone, &kByName},
                      SavedPage{"apache-fancy.html", "text/html;charset=ISO-8859-1", "apache-html",
                                Facts::kNone, &kByName},
                      SavedPage{"apache-table.html", "text/html;charset=ISO-8859-1", "apache-html",
                                Facts::kNone, &kByName},
                      SavedPage{"lighttpd.html", "text/html;charset=utf-8", "lighttpd-html",
                                Facts::kNone, &kDirectoriesFirst},
                      SavedPage{"caddy.html", "text/html; charset=utf-8", "caddy-html",
                                Facts::kExact, &kDirectoriesFirst},
                      SavedPage{"caddy.json", "application/json; charset=utf-8", "caddy-json",
                                Facts::kExact, &kDirectoriesFirst},
                      SavedPage{"python.html", "text/html; charset=utf-8", "python-html",
                                Facts::kNone, &kByName}),
    [](const ::testing::TestParamInfo<SavedPage>& test) {
      std::string name = test.param.file;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

// A page fetched as /pub/ (its links relative) lists the same names under /pub/.
TEST(SavedPageTest, LinksResolveAgainstThePageUrl) {
  const Result<ParsedPage> parsed =
      ParseListingPage(ReadData("apache-fancy.html"), "text/html", "http://127.0.0.1:8080/pub/",
                       "http://127.0.0.1:8080/pub/", {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->listing.entries.size(), Tree().size());
  EXPECT_EQ(parsed->listing.entries[0].url, "http://127.0.0.1:8080/pub/100%25.txt");
  EXPECT_EQ(parsed->listing.entries[5].url, "http://127.0.0.1:8080/pub/sub%20dir/");
}

// The same page fetched for another directory: nothing of it is under that one.
TEST(SavedPageTest, EntriesOfAnotherDirectoryAreNotKept) {
  const Result<ParsedPage> parsed =
      ParseListingPage(ReadData("nginx-html.html"), "text/html", "http://127.0.0.1:8080/",
                       "http://127.0.0.1:8080/other/", {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_THAT(parsed->listing.entries, IsEmpty());
  EXPECT_EQ(parsed->listing.format, "nginx-html");
}

}  // namespace
}  // namespace listing
}  // namespace rangefs
