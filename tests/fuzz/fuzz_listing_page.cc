// The directory listing parsers (ParseListingPage): HTML of any server, JSON, nginx XML and S3
// ListBucketResult, as a server sends them. Input: one selector byte (Content-Type, and whether
// the directory is a web server's or an S3 list URL), then the page's body.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "listing/listing_page.h"

namespace rangefs::fuzz {
namespace {

constexpr std::string_view kContentTypes[] = {"",
                                              "text/html",
                                              "application/json",
                                              "text/xml",
                                              "application/xml",
                                              "text/html; charset=ISO-8859-1",
                                              "text/plain",
                                              "application/octet-stream"};
constexpr std::string_view kOrigin = "http://127.0.0.1:8080/";
constexpr std::string_view kWebDirectory = "http://127.0.0.1:8080/pub/";
constexpr std::string_view kS3List = "http://127.0.0.1:8080/?list-type=2&prefix=pub/&delimiter=/";
constexpr size_t kMaxEntries = 64;

void CheckName(std::string_view name) {
  FUZZ_CHECK(!name.empty());
  FUZZ_CHECK(name != "." && name != "..");
  FUZZ_CHECK(name.find('/') == std::string_view::npos);
  FUZZ_CHECK(name.find('\0') == std::string_view::npos);
}

void CheckPage(const listing::ParsedPage& page, bool s3) {
  FUZZ_CHECK(!page.listing.format.empty());
  FUZZ_CHECK(page.listing.entries.size() <= kMaxEntries);
  FUZZ_CHECK(page.skipped.size() <= listing::kMaxSkippedLines + 1);
  std::set<std::string> names;
  for (const ListedEntry& entry : page.listing.entries) {
    CheckName(entry.name);
    FUZZ_CHECK(names.insert(entry.name).second);  // first wins: no duplicates
    FUZZ_CHECK(entry.url.starts_with(kOrigin));
    FUZZ_CHECK(entry.url.find('#') == std::string::npos);
    FUZZ_CHECK(!entry.is_directory || !entry.size);  // directories carry no size
    if (page.listing.format == "s3-list-v2") {
      FUZZ_CHECK(s3);
      if (entry.is_directory) FUZZ_CHECK(entry.url.starts_with("http://127.0.0.1:8080/?"));
    } else {
      // A web server's entry: one segment under the directory, '/' only for a directory.
      FUZZ_CHECK(entry.url.starts_with(s3 ? kOrigin : kWebDirectory));
      const std::string_view rest =
          std::string_view(entry.url).substr((s3 ? kOrigin : kWebDirectory).size());
      FUZZ_CHECK(entry.is_directory == rest.ends_with('/'));
      FUZZ_CHECK(rest.find('/') == (entry.is_directory ? rest.size() - 1 : std::string::npos));
      FUZZ_CHECK(rest.find('?') == std::string_view::npos);
    }
  }
  if (page.next_page_url) {
    FUZZ_CHECK(page.listing.format == "s3-list-v2");
    FUZZ_CHECK(page.next_page_url->starts_with("http://127.0.0.1:8080/?"));
    FUZZ_CHECK(page.next_page_url->find("continuation-token=") != std::string::npos);
  }
}

}  // namespace
}  // namespace rangefs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rangefs;
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const std::string_view body = fuzz::AsText(data + 1, size - 1);
  const std::string_view content_type = fuzz::kContentTypes[selector % 8];
  const bool s3 = (selector & 0x8) != 0;
  const std::string_view directory = s3 ? fuzz::kS3List : fuzz::kWebDirectory;
  listing::ListingLimits limits;
  limits.max_entries = fuzz::kMaxEntries;
  const Result<listing::ParsedPage> page =
      listing::ParseListingPage(body, content_type, directory, directory, limits);
  if (page.ok()) {
    fuzz::CheckPage(*page, s3);
  } else {
    FUZZ_CHECK(page.status().code() == ErrorCode::kProtocolViolation ||
               page.status().code() == ErrorCode::kLimitExceeded);
    FUZZ_CHECK(!page.status().message().empty());
  }
  return 0;
}
