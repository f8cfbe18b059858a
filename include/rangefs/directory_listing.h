// What a remote directory holds, as its listing page says, and the seam through which the core
// asks for it. The production lister fetches the page over HTTP and parses it (src/listing for
// the formats, src/http for the fetch); unit tests use a memory lister (tests/fakes).
//
// Thread-safety: implementations of DirectoryLister allow concurrent calls.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "rangefs/status.h"

namespace rangefs {

// One entry of a remote directory.
struct ListedEntry {
  // Percent-decoded exactly once; never empty, ".", "..", and never holds '/' or NUL.
  std::string name;
  // Absolute. A file's is where its bytes are; a directory's is what lists it (for web
  // servers, the directory's URL with its trailing '/').
  std::string url;
  bool is_directory = false;
  // Only when the listing states it exactly, in bytes (a JSON listing, nginx's HTML); never a
  // rounded figure such as Apache's "1.2M".
  std::optional<uint64_t> size;
  std::optional<std::time_t> mtime;
  friend bool operator==(const ListedEntry&, const ListedEntry&) = default;
};

struct Listing {
  // In the order of the page; names are unique (the first of duplicates wins).
  std::vector<ListedEntry> entries;
  // The format the page was read as ("nginx-json", "apache-html", "s3-list-v2", ...): for logs.
  std::string format;
};

class DirectoryLister {
 public:
  virtual ~DirectoryLister() = default;
  // Fetches and parses the listing of the directory at `url` (every page of it). Errors:
  // kNotFound for a 404 or 410, kLimitExceeded when the page or its entries exceed the
  // configured limits, kProtocolViolation when the answer is no listing rangefs can read, and
  // the transport and HTTP errors of any request.
  virtual Result<Listing> List(const std::string& url) = 0;
};

}  // namespace rangefs
