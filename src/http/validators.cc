#include "http/validators.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace rangefs::http {

bool IsStrongEntityTag(std::string_view etag) {
  // entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, where etagc excludes DQUOTE itself.
  if (etag.size() < 2 || etag.front() != '"' || etag.back() != '"') return false;
  return etag.substr(1, etag.size() - 2).find('"') == std::string_view::npos;
}

std::string FormatHttpDate(std::time_t time) {
  // Fixed English names: strftime's %a and %b follow the locale, HTTP dates do not.
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm utc{};
  gmtime_r(&time, &utc);
  std::array<char, 40> buffer{};
  const int length = std::snprintf(
      buffer.data(), buffer.size(), "%s, %02d %s %04lld %02d:%02d:%02d GMT",
      kDays[static_cast<size_t>(utc.tm_wday) % kDays.size()], utc.tm_mday,
      kMonths[static_cast<size_t>(utc.tm_mon) % kMonths.size()],
      static_cast<long long>(utc.tm_year) + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
  return std::string(buffer.data(), static_cast<size_t>(std::max(length, 0)));
}

std::optional<std::string> RangePreconditionHeader(const RemoteFileInfo& file) {
  // A strong ETag goes in If-Range: a changed file then answers 200 with its new ETag and size,
  // and nginx, Apache, Caddy, CDNs and object stores all evaluate it. RFC 7233 section 3.2
  // forbids weak tags there, and a date only when the client can tell it is strong, which it
  // cannot from Last-Modified alone. So without a strong ETag, If-Unmodified-Since carries the
  // date: it has no strength rule, nginx and Apache answer 412 when it fails, and second
  // granularity is all a Last-Modified can promise anyway.
  if (IsStrongEntityTag(file.etag)) return "If-Range: " + file.etag;
  if (file.last_modified) return "If-Unmodified-Since: " + FormatHttpDate(*file.last_modified);
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
                                                 FormatHttpDate(*got.last_modified) + ", was " +
                                                 FormatHttpDate(*expected.last_modified));
  }
  return Status::Ok();
}

}  // namespace rangefs::http
