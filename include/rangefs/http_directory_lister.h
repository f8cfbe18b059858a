// The DirectoryLister that speaks HTTP: it asks for a machine-readable listing first (Accept:
// application/json, which Caddy's browse answers), reads whatever format comes back
// (src/listing), follows redirects one checked hop at a time with the probe's rules, and
// fetches every page of a paginated listing (S3 ListObjectsV2 continuation tokens). A page
// larger than the limit, or more entries than the limit, is an error (kLimitExceeded), never
// an unbounded allocation; a transient failure (a dropped connection, a 503) is retried twice.
//
// Thread-safety: List may be called from many threads at once; each call leases its own
// libcurl handle and blocks on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "rangefs/directory_listing.h"
#include "rangefs/http_range_source.h"
#include "rangefs/metrics.h"

namespace rangefs {

struct ListingLimitOptions {
  // The most bytes of one listing page (--max-listing-size).
  uint64_t max_page_bytes = 32 << 20;
  // The most entries of one directory, all its pages together (--max-dir-entries).
  size_t max_entries = 250000;
};

// `options` and `metrics` (may be null) must outlive the lister.
std::unique_ptr<DirectoryLister> NewHttpDirectoryLister(const HttpOptions& options,
                                                        const ListingLimitOptions& limits,
                                                        Metrics* metrics = nullptr);

}  // namespace rangefs
