// XML listings: nginx's `autoindex_format xml` (<list><directory mtime>name</directory><file
// mtime size>name</file>...</list>) and S3's ListObjectsV2 answer (<ListBucketResult>, read by
// s3_listing). Parsed with libxml2 without network, without DTD loading and without entity
// substitution, and a document that declares a DTD at all is refused: no listing needs one,
// and so no entity can be expanded (an XML bomb fails, it does not grow).
//
// Thread-safety: pure function.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "listing/entry_collector.h"
#include "listing/url_resolution.h"
#include "rangefs/status.h"

namespace rangefs::listing {

struct XmlListing {
  std::string format;                        // "nginx-xml" or "s3-list-v2"
  std::optional<std::string> next_page_url;  // a truncated S3 listing's next page
};

// Parses `body` as an XML listing and adds its entries to `collector`. Errors:
// kProtocolViolation for malformed XML, a DTD, or XML of another kind; kLimitExceeded from the
// collector.
Result<XmlListing> ParseXmlListing(std::string_view body, const DirectoryUrl& directory,
                                   EntryCollector& collector);

}  // namespace rangefs::listing
