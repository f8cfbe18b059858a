// JSON listings: nginx's `autoindex_format json` ([{"name", "type", "mtime", "size"}]) and
// Caddy's browse answer to Accept: application/json ([{"name", "size", "url", "mod_time",
// "is_dir", ...}]). Names are raw; each entry's URL is the directory's plus the name encoded as
// one path segment (Caddy's own "url" is not needed).
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>

#include "listing/entry_collector.h"
#include "rangefs/status.h"

namespace rangefs::listing {

// Parses `body` as a JSON listing and adds its entries to `collector`. Returns "nginx-json",
// "caddy-json", or "json" for an empty array. Errors: kProtocolViolation for malformed JSON or
// JSON of another shape, kLimitExceeded from the collector.
Result<std::string> ParseJsonListing(std::string_view body, EntryCollector& collector);

}  // namespace rangefs::listing
