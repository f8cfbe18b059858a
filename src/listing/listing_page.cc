#include "listing/listing_page.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "listing/entry_collector.h"
#include "listing/html_listing.h"
#include "listing/json_listing.h"
#include "listing/url_resolution.h"
#include "listing/xml_listing.h"

namespace rangefs::listing {
namespace {

enum class Syntax { kUnknown, kHtml, kJson, kXml };

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

struct MediaType {
  std::string type;     // lower case, "text/html"
  std::string charset;  // as given, unquoted; "" when none
};

MediaType ParseContentType(std::string_view header) {
  MediaType media;
  media.type = Lower(Trim(header.substr(0, header.find(';'))));
  size_t semicolon = header.find(';');
  while (semicolon != std::string_view::npos) {
    header.remove_prefix(semicolon + 1);
    semicolon = header.find(';');
    const std::string_view parameter = Trim(header.substr(0, semicolon));
    const size_t equals = parameter.find('=');
    if (equals == std::string_view::npos || Lower(Trim(parameter.substr(0, equals))) != "charset") {
      continue;
    }
    std::string_view value = Trim(parameter.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    media.charset = std::string(value);
  }
  return media;
}

Syntax FromMediaType(std::string_view type) {
  if (type == "text/html" || type == "application/xhtml+xml") return Syntax::kHtml;
  if (type == "application/json" || type == "text/json" || type.ends_with("+json")) {
    return Syntax::kJson;
  }
  if (type == "application/xml" || type == "text/xml" || type.ends_with("+xml")) {
    return Syntax::kXml;
  }
  return Syntax::kUnknown;
}

// For a Content-Type that says nothing useful (none, text/plain, application/octet-stream):
// what the body starts with.
Syntax Sniff(std::string_view body) {
  if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);  // UTF-8 byte order mark
  body = Trim(body.substr(0, 512));
  if (body.starts_with('[') || body.starts_with('{')) return Syntax::kJson;
  const std::string start = Lower(body.substr(0, 16));
  if (start.starts_with("<?xml")) return Syntax::kXml;
  if (start.starts_with("<!doctype html") || start.starts_with("<html") ||
      start.starts_with("<head") || start.starts_with("<body")) {
    return Syntax::kHtml;
  }
  return Syntax::kUnknown;
}

}  // namespace

Result<ParsedPage> ParseListingPage(std::string_view body, std::string_view content_type,
                                    std::string_view page_url, std::string_view directory_url,
                                    const ListingLimits& limits) {
  const Result<DirectoryUrl> directory = DirectoryUrl::Parse(directory_url);
  if (!directory.ok()) return directory.status();
  const MediaType media = ParseContentType(content_type);
  Syntax syntax = FromMediaType(media.type);
  if (syntax == Syntax::kUnknown) syntax = Sniff(body);
  EntryCollector collector(*directory, limits);
  switch (syntax) {
    case Syntax::kJson: {
      Result<std::string> format = ParseJsonListing(body, collector);
      if (!format.ok()) return format.status();
      return std::move(collector).Finish(std::move(*format), std::nullopt);
    }
    case Syntax::kXml: {
      Result<XmlListing> xml = ParseXmlListing(body, *directory, collector);
      if (!xml.ok()) return xml.status();
      return std::move(collector).Finish(std::move(xml->format), std::move(xml->next_page_url));
    }
    case Syntax::kHtml: {
      Result<LinkResolver> resolver = LinkResolver::Create(page_url, *directory);
      if (!resolver.ok()) return resolver.status();
      Result<std::string> format = ParseHtmlListing(body, media.charset, *resolver, collector);
      if (!format.ok()) return format.status();
      return std::move(collector).Finish(std::move(*format), std::nullopt);
    }
    case Syntax::kUnknown:
      break;
  }
  const std::string shown_type =
      media.type.empty() ? "no Content-Type" : "Content-Type " + QuoteForLog(media.type);
  return Status(ErrorCode::kProtocolViolation, "not a directory listing: " + shown_type +
                                                   " and a body that is neither HTML, "
                                                   "JSON nor XML");
}

}  // namespace rangefs::listing
