// Directory listing pages read as entries: one fetched page (an nginx, Apache, lighttpd, Caddy
// or Python index, an S3 ListObjectsV2 answer) in, the entries it names out. Pure: no network,
// no FUSE; the HTTP lister fetches the pages and hands them here one at a time.
//
// Formats, detected from the Content-Type and the content, never guessed silently; the one a
// page was read as is named in Listing::format:
//   "nginx-html", "nginx-json", "nginx-xml"     nginx autoindex (sizes and mtimes from all three)
//   "apache-html"                               mod_autoindex, plain, FancyIndexing, HTMLTable
//   "lighttpd-html"                             mod_dirlisting
//   "caddy-html", "caddy-json"                  Caddy's file_server browse
//   "python-html"                               python3 -m http.server
//   "html"                                      any other HTML page of links
//   "json"                                      an empty JSON array (nginx or Caddy)
//   "s3-list-v2"                                S3 ListObjectsV2 (ListBucketResult)
// Sizes are kept only where the page states them in bytes (JSON, nginx's HTML and XML, Caddy's
// HTML, S3); Apache's and lighttpd's "1.2M" are not sizes. Mtimes are kept where the page gives
// them in UTC (nginx, Caddy, S3); Apache and lighttpd print the server's local time, of an
// unknown zone, so theirs are not kept.
//
// Rules for the links of HTML pages (issue 14): resolved against the page's URL (RFC 3986,
// through libcurl's URL API), or its <base href>; kept only when on the directory's origin and
// exactly one path segment under the directory's path (a trailing '/' makes a directory). Sort
// links (any query), fragments, the parent, the directory itself and links elsewhere are
// dropped without a word; a name is the segment percent-decoded exactly once, and a name that is
// empty, ".", "..", or holds '/' or NUL is skipped with a line in ParsedPage::skipped, as is
// every duplicate (the first wins).
//
// Thread-safety: pure function; may be called from any number of threads at once (libxml2 is
// initialised once, behind std::call_once).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rangefs/directory_listing.h"
#include "rangefs/status.h"

namespace rangefs::listing {

struct ListingLimits {
  // Entries kept from one page; one more is kLimitExceeded.
  size_t max_entries = 250000;
};

struct ParsedPage {
  Listing listing;
  // Only for a truncated S3 listing: the absolute URL of the next page (the directory's list
  // URL with continuation-token set).
  std::optional<std::string> next_page_url;
  // One line per skipped entry or duplicate, for the caller to log once; at most
  // kMaxSkippedLines, then one line counting the rest.
  std::vector<std::string> skipped;
};

inline constexpr size_t kMaxSkippedLines = 1000;

// Reads one listing page.
//   body          the response body
//   content_type  its Content-Type header, possibly empty
//   page_url      the URL the page came from, after redirects: links resolve against it
//   directory_url the directory being listed: entries are directly under it, on its origin
//                 (for S3, its list URL: "http://host/?list-type=2&prefix=dir/&delimiter=/")
// Errors: kProtocolViolation "not a directory listing: ..." when no format matches (the
// server's answer is unusable); kInvalidArgument when a URL given is not absolute;
// kLimitExceeded when the entries exceed limits.max_entries.
Result<ParsedPage> ParseListingPage(std::string_view body, std::string_view content_type,
                                    std::string_view page_url, std::string_view directory_url,
                                    const ListingLimits& limits);

}  // namespace rangefs::listing
