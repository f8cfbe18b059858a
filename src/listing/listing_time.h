// The dates of listing pages, read without the locale: RFC 3339 (Caddy's mod_time, nginx's XML,
// S3's LastModified) and the "14-Oct-2015 08:40" of nginx's HTML autoindex. nginx's JSON dates
// are IMF-fixdate, read by rangefs/imf_date.h.
//
// Thread-safety: pure functions.
#pragma once

#include <ctime>
#include <optional>
#include <string_view>

namespace rangefs::listing {

// "2015-10-14T08:40:53Z", "2015-10-14T08:40:53.000Z", "2015-10-14T10:40:53.5+02:00": an
// RFC 3339 date-time ('T' or 't' or ' ' between date and time, 'Z' or 'z' or an offset; the
// fraction is dropped). Surrounding spaces are allowed. nullopt when malformed or not a real
// date.
std::optional<std::time_t> ParseRfc3339(std::string_view text);

// nginx's autoindex HTML: "14-Oct-2015" and "08:40", in UTC (autoindex_localtime off, the
// default). nullopt when malformed.
std::optional<std::time_t> ParseNginxHtmlTime(std::string_view date, std::string_view time);

}  // namespace rangefs::listing
