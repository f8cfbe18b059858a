#include "listing/html_listing.h"

#include <libxml/HTMLparser.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <utility>
#include <vector>

#include "listing/libxml.h"
#include "listing/listing_time.h"

namespace rangefs::listing {
namespace {

enum class Flavor { kGeneric, kNginx, kApache, kLighttpd, kCaddy, kPython };

const char* FormatName(Flavor flavor) {
  switch (flavor) {
    case Flavor::kNginx:
      return "nginx-html";
    case Flavor::kApache:
      return "apache-html";
    case Flavor::kLighttpd:
      return "lighttpd-html";
    case Flavor::kCaddy:
      return "caddy-html";
    case Flavor::kPython:
      return "python-html";
    case Flavor::kGeneric:
      break;
  }
  return "html";
}

// What the page's shape says about the server that made it.
struct PageShape {
  std::string title;
  std::string heading;                                        // the first <h1> or <h2>
  std::vector<std::pair<const xmlNode*, std::string>> links;  // each <a> and its href
  std::optional<std::string> base_href;
  bool apache_sort_links = false;  // "?C=N;O=D"
  bool caddy_sort_links = false;   // "?sort=name&order=asc"
  bool caddy_footer = false;       // "Served with <a href="https://caddyserver.com">Caddy</a>"
  bool lighttpd = false;  // <table summary="Directory Listing">, <div class="foot">lighttpd/...
  bool has_pre = false;
  bool has_ul = false;
};

constexpr size_t kTitleLimit = 256;

PageShape Survey(const xmlNode* root) {
  PageShape shape;
  for (const xmlNode* node = root; node != nullptr; node = NextInTree(node, root)) {
    const std::string_view name = ElementName(node);
    if (name.empty()) continue;
    if (name == "a") {
      std::optional<std::string> href = Attribute(node, "href");
      if (!href) continue;
      if (href->starts_with("?C=")) shape.apache_sort_links = true;
      if (href->starts_with("?sort=")) shape.caddy_sort_links = true;
      if (href->starts_with("https://caddyserver.com")) shape.caddy_footer = true;
      shape.links.emplace_back(node, std::move(*href));
    } else if (name == "title" && shape.title.empty()) {
      shape.title = DescendantText(node, kTitleLimit);
    } else if ((name == "h1" || name == "h2") && shape.heading.empty()) {
      shape.heading = DescendantText(node, kTitleLimit);
    } else if (name == "base" && !shape.base_href) {
      shape.base_href = Attribute(node, "href");
    } else if (name == "pre") {
      shape.has_pre = true;
    } else if (name == "ul") {
      shape.has_ul = true;
    } else if (name == "table" && Attribute(node, "summary") == "Directory Listing") {
      shape.lighttpd = true;
    } else if (name == "div" && Attribute(node, "class") == "foot" &&
               DescendantText(node, kTitleLimit).starts_with("lighttpd")) {
      shape.lighttpd = true;
    }
  }
  return shape;
}

Flavor Recognize(const PageShape& shape) {
  if (shape.caddy_footer && shape.caddy_sort_links) return Flavor::kCaddy;
  if (shape.lighttpd) return Flavor::kLighttpd;
  if (shape.apache_sort_links) return Flavor::kApache;
  if (shape.title.starts_with("Directory listing for ")) return Flavor::kPython;
  if (shape.title.starts_with("Index of ") && shape.heading.starts_with("Index of ")) {
    // Apache's plain list is a <ul>; nginx's is a <pre> with sizes and dates.
    if (shape.has_ul) return Flavor::kApache;
    if (shape.has_pre) return Flavor::kNginx;
  }
  return Flavor::kGeneric;
}

std::vector<std::string_view> SplitWhitespace(std::string_view text) {
  std::vector<std::string_view> words;
  size_t at = 0;
  while (words.size() < 4) {
    at = text.find_first_not_of(" \t\r\n", at);
    if (at == std::string_view::npos) break;
    const size_t end = std::min(text.find_first_of(" \t\r\n", at), text.size());
    words.push_back(text.substr(at, end - at));
    at = end;
  }
  return words;
}

// nginx: "<a href="x">x</a>   14-Oct-2015 08:40   1500" in a <pre>, "-" for a directory.
// The size is exact with autoindex_exact_size on (the default); with it off, sizes over 9999
// read "10K", "3M", which are not digits and so are not taken.
EntryFacts NginxFacts(const xmlNode* link) {
  EntryFacts facts;
  if (ElementName(link->parent) != "pre" || link->next == nullptr ||
      link->next->type != XML_TEXT_NODE || link->next->content == nullptr) {
    return facts;
  }
  const std::vector<std::string_view> words =
      SplitWhitespace(reinterpret_cast<const char*>(link->next->content));
  if (words.size() != 3) return facts;
  facts.mtime = ParseNginxHtmlTime(words[0], words[1]);
  if (facts.mtime) facts.size = ParseDecimalSize(words[2]);
  return facts;
}

const xmlNode* NextElement(const xmlNode* node) {
  for (node = node->next; node != nullptr; node = node->next) {
    if (node->type == XML_ELEMENT_NODE) return node;
  }
  return nullptr;
}

// Caddy: the link's cell is followed by <td data-order="BYTES"> (-1 for a directory) and a cell
// holding <time datetime="RFC 3339">.
EntryFacts CaddyFacts(const xmlNode* link) {
  EntryFacts facts;
  const xmlNode* cell = link->parent;
  if (ElementName(cell) != "td") return facts;
  const xmlNode* size_cell = NextElement(cell);
  if (ElementName(size_cell) != "td") return facts;
  if (const std::optional<std::string> order = Attribute(size_cell, "data-order")) {
    facts.size = ParseDecimalSize(*order);
  }
  const xmlNode* time_cell = NextElement(size_cell);
  if (ElementName(time_cell) != "td") return facts;
  for (const xmlNode* node = time_cell; node != nullptr; node = NextInTree(node, time_cell)) {
    if (ElementName(node) == "time") {
      if (const std::optional<std::string> datetime = Attribute(node, "datetime")) {
        facts.mtime = ParseRfc3339(*datetime);
      }
      break;
    }
  }
  return facts;
}

bool LooksLikeIndexTitle(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("index of") != std::string::npos || lower.find("listing") != std::string::npos;
}

}  // namespace

Result<std::string> ParseHtmlListing(std::string_view body, std::string_view charset,
                                     LinkResolver& resolver, EntryCollector& collector) {
  InitLibxml();
  if (body.size() > INT_MAX) {
    return Status(ErrorCode::kLimitExceeded, "the listing page is larger than 2 GiB");
  }
  const std::string encoding(charset);
  // Recover from the HTML of the wild, quietly, and never fetch anything it names.
  const XmlDoc doc(htmlReadMemory(body.data(), static_cast<int>(body.size()), nullptr,
                                  encoding.empty() ? nullptr : encoding.c_str(),
                                  HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                      HTML_PARSE_NONET | HTML_PARSE_COMPACT));
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (root == nullptr) {
    return Status(ErrorCode::kProtocolViolation, "not a directory listing: an empty HTML page");
  }
  const PageShape shape = Survey(root);
  const Flavor flavor = Recognize(shape);
  if (shape.base_href) resolver.SetBase(*shape.base_href);
  for (const auto& [link, href] : shape.links) {
    const std::optional<ChildLink> child = resolver.Child(href);
    if (!child) continue;
    EntryFacts facts;
    if (flavor == Flavor::kNginx) facts = NginxFacts(link);
    if (flavor == Flavor::kCaddy) facts = CaddyFacts(link);
    if (Status status = collector.AddLink(*child, facts); !status.ok()) return status;
  }
  if (flavor == Flavor::kGeneric && collector.entry_count() == 0 &&
      !LooksLikeIndexTitle(shape.title) && !LooksLikeIndexTitle(shape.heading)) {
    return Status(ErrorCode::kProtocolViolation,
                  "not a directory listing: an HTML page with no entries and no index title");
  }
  return std::string(FormatName(flavor));
}

}  // namespace rangefs::listing
