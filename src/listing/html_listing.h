// HTML listing pages: nginx's autoindex, Apache's mod_autoindex (plain, FancyIndexing,
// HTMLTable), lighttpd's mod_dirlisting, Caddy's browse, Python's http.server, and any other
// page of links. Every <a href> goes through the same link rules (LinkResolver); the server,
// recognised by the shape of its page, only decides which facts beside a link are read:
// nginx's size and date after each link of its <pre>, Caddy's data-order and <time datetime>
// in the cells beside the link's.
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>

#include "listing/entry_collector.h"
#include "listing/url_resolution.h"
#include "rangefs/status.h"

namespace rangefs::listing {

// Parses `body` as HTML (in `charset` when the Content-Type named one, else as the page says)
// and adds its entries to `collector`. Returns the format's name. Errors: kProtocolViolation for
// a page of another kind (no entries and no index title), kLimitExceeded from the collector.
Result<std::string> ParseHtmlListing(std::string_view body, std::string_view charset,
                                     LinkResolver& resolver, EntryCollector& collector);

}  // namespace rangefs::listing
