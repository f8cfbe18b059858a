// Pure functions for the validators that tie a range request to one version of a file
// (RFC 7232 entity-tags and dates, RFC 7233 section 3.2 If-Range). No I/O, no libcurl.
//
// Thread-safety: all functions are pure.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs::http {

// RFC 7232 section 2.3: an entity-tag is a quoted string, weak when prefixed by "W/". True only
// for a well-formed strong tag.
bool IsStrongEntityTag(std::string_view etag);

// The conditional header every range GET for `file` carries, so that no answer can hold bytes
// of another version; nullopt when the file has no usable validator.
std::optional<std::string> RangePreconditionHeader(const RemoteFileInfo& file);

// What one response says about the version it comes from.
struct ResponseIdentity {
  std::optional<std::string> etag;
  std::optional<std::time_t> last_modified;
  std::optional<uint64_t> size;  // the Content-Range total, or the Content-Length of a 200
};

// kRemoteChanged, naming what differs, when `got` comes from another version than `expected`:
// a validator or size both sides know and that differs. A validator the response leaves out is
// no evidence either way (proxies strip them).
Status CheckSameVersion(const RemoteFileInfo& expected, const ResponseIdentity& got);

}  // namespace rangefs::http
