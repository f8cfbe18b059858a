#include "http/validators.h"

#include "rangefs/imf_date.h"

namespace rangefs::http {

bool IsStrongEntityTag(std::string_view etag) {
  // entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, where etagc excludes DQUOTE itself.
  if (etag.size() < 2 || etag.front() != '"' || etag.back() != '"') return false;
  return etag.substr(1, etag.size() - 2).find('"') == std::string_view::npos;
}

std::optional<std::string> RangePreconditionHeader(const RemoteFileInfo& file) {
  // A strong ETag goes in If-Range: a changed file then answers 200 with its new ETag and size,
  // and nginx, Apache, Caddy, CDNs and object stores all evaluate it. RFC 7233 section 3.2
  // forbids weak tags there, and a date only when the client can tell it is strong, which it
  // cannot from Last-Modified alone. So without a strong ETag, If-Unmodified-Since carries the
  // date: it has no strength rule, nginx and Apache answer 412 when it fails, and second
  // granularity is all a Last-Modified can promise anyway.
  if (IsStrongEntityTag(file.etag)) return "If-Range: " + file.etag;
  if (file.last_modified) return "If-Unmodified-Since: " + FormatImfDate(*file.last_modified);
  return std::nullopt;
}

Status CheckSameVersion(const RemoteFileInfo& expected, const ResponseIdentity& got) {
  if (got.size && *got.size != expected.size) {
    return Status(ErrorCode::kRemoteChanged, "size is " + std::to_string(*got.size) +
                                                 " bytes, was " + std::to_string(expected.size));
  }
  if (got.etag && !expected.etag.empty() && *got.etag != expected.etag) {
    return Status(ErrorCode::kRemoteChanged, "ETag is " + *got.etag + ", was " + expected.etag);
  }
  if (got.last_modified && expected.last_modified &&
      *got.last_modified != *expected.last_modified) {
    return Status(ErrorCode::kRemoteChanged, "Last-Modified is " +
                                                 FormatImfDate(*got.last_modified) + ", was " +
                                                 FormatImfDate(*expected.last_modified));
  }
  return Status::Ok();
}

}  // namespace rangefs::http
