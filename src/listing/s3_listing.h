// S3 ListObjectsV2 answers (<ListBucketResult>), as AWS documents them: Contents (Key, Size,
// LastModified) are files, CommonPrefixes (Prefix) are directories, and IsTruncated with
// NextContinuationToken names the next page. The directory is its list URL
// ("http://host/?list-type=2&prefix=dir/&delimiter=/"); keys are raw, not percent-encoded.
// - a file's URL: the list URL's path (with a trailing '/') plus the key percent-encoded, '/'
//   kept ("http://host/dir/a%20b.txt");
// - a directory's URL: the list URL with prefix set to its common prefix (other parameters
//   kept, continuation-token dropped);
// - the next page: the list URL with continuation-token set.
// The key equal to the prefix itself (the "folder" object some tools create) is no entry.
//
// Thread-safety: pure function.
#pragma once

#include <libxml/tree.h>

#include <optional>
#include <string>

#include "listing/entry_collector.h"
#include "listing/url_resolution.h"
#include "rangefs/status.h"

namespace rangefs::listing {

// Reads the <ListBucketResult> element `root`; returns the next page's URL when the listing
// is truncated. Errors: kProtocolViolation for a truncated listing without a continuation
// token or a url-encoded one (EncodingType), kLimitExceeded from the collector.
Result<std::optional<std::string>> ParseS3ListBucketResult(const xmlNode* root,
                                                           const DirectoryUrl& directory,
                                                           EntryCollector& collector);

}  // namespace rangefs::listing
