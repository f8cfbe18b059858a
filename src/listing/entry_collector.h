// What every format shares once it has found an entry: the name checks (empty, ".", "..",
// '/', NUL), first-wins deduplication, the entry limit, and the lines that say what was
// skipped. The format parsers feed it in page order.
//
// Thread-safety: none; one per parse.
// Ownership: keeps a reference to the directory, which must outlive it.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "listing/listing_page.h"
#include "listing/url_resolution.h"
#include "rangefs/status.h"

namespace rangefs::listing {

// What a page says of an entry beyond its name.
struct EntryFacts {
  std::optional<uint64_t> size;  // exact bytes only; dropped for directories
  std::optional<std::time_t> mtime;
};

class EntryCollector {
 public:
  EntryCollector(const DirectoryUrl& directory, const ListingLimits& limits)
      : directory_(directory), limits_(limits) {}

  // A link of an HTML page that names a child: the name is its segment percent-decoded once,
  // the URL the directory's base plus the segment.
  Status AddLink(const ChildLink& link, const EntryFacts& facts);

  // An entry a JSON or XML listing names by its raw (unencoded) name: the URL is the
  // directory's base plus the name percent-encoded as one path segment.
  Status AddNamed(std::string_view name, bool is_directory, const EntryFacts& facts);

  // An entry whose URL the format builds itself (S3).
  Status Add(std::string name, std::string url, bool is_directory, const EntryFacts& facts);

  // Records a skipped entry (the format's own reasons: no name, an unknown type).
  void Skip(std::string line);

  size_t entry_count() const { return entries_.size(); }

  ParsedPage Finish(std::string format, std::optional<std::string> next_page_url) &&;

 private:
  const DirectoryUrl& directory_;
  const ListingLimits& limits_;
  std::vector<ListedEntry> entries_;
  std::unordered_set<std::string> names_;
  std::vector<std::string> skipped_;
  size_t skipped_unlisted_ = 0;
};

// A size written as decimal digits only (no sign, no unit, no spaces), up to 19 digits so that
// it always fits.
std::optional<uint64_t> ParseDecimalSize(std::string_view digits);

// `text` for a log line: printable ASCII as is, quotes and backslashes escaped, and other bytes
// (control characters, UTF-8, invalid UTF-8) as "\xHH", so that no name can forge a line.
std::string QuoteForLog(std::string_view text);

}  // namespace rangefs::listing
