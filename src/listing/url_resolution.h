// The URL work of reading a listing: percent-encoding, the directory a listing lists, and the
// links of a page resolved against it (RFC 3986 section 5, through libcurl's URL API, which
// parses and resolves without any network).
//
// Thread-safety: pure functions; a DirectoryUrl and a LinkResolver are immutable once made and
// their const members may be called from several threads.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "listing/curl_url.h"
#include "rangefs/status.h"

namespace rangefs::listing {

// Decodes each "%XX" once; a '%' not followed by two hex digits stays as it is, since servers
// that leave a name's '%' unencoded exist and a literal '%' is what they mean.
std::string PercentDecode(std::string_view text);

// Encodes every byte but RFC 3986's unreserved characters (and '/' when keep_slash) as "%XX":
// a name becomes one path segment, a key a path, a value one query parameter.
std::string PercentEncode(std::string_view text, bool keep_slash = false);

// RFC 3986 6.2.2 normalisation of percent-encoding: hex digits in upper case, and escapes of
// unreserved characters decoded ("%7e" -> "~", "%c3%a9" -> "%C3%A9"), so that two spellings of
// one path compare equal.
std::string NormalizePercentEncoding(std::string_view text);

// The directory being listed.
class DirectoryUrl {
 public:
  // Fails (kInvalidArgument) unless `url` is absolute, with a host.
  static Result<DirectoryUrl> Parse(std::string_view url);

  // "http://host:80": lower-case scheme and host, the port always given.
  const std::string& origin() const { return origin_; }
  // The URL without query or fragment, its path ending in '/': every entry's URL starts with
  // it ("http://host/pub/").
  const std::string& base() const { return base_; }
  // The URL without its query or fragment, as given ("http://host/" for an S3 list URL).
  const std::string& without_query() const { return without_query_; }
  // The raw query, without '?'; empty when there is none.
  const std::string& query() const { return query_; }
  // The path of base(), normalised (NormalizePercentEncoding).
  const std::string& normalized_path() const { return normalized_path_; }

 private:
  std::string origin_;
  std::string base_;
  std::string without_query_;
  std::string query_;
  std::string normalized_path_;
};

// An entry a link names: one path segment directly under the directory.
struct ChildLink {
  std::string segment;  // normalised, still percent-encoded, without the trailing '/'
  bool is_directory = false;
};

// Resolves the links of one page against its URL and keeps those directly under a directory.
class LinkResolver {
 public:
  // Fails (kInvalidArgument) unless `page_url` is absolute.
  static Result<LinkResolver> Create(std::string_view page_url, const DirectoryUrl& directory);

  // A <base href> replaces the page's URL as the base; ignored when it does not resolve.
  void SetBase(std::string_view href);

  // The child of the directory that `href` names, or nullopt for a link that names none: one
  // with a query or a fragment, on another origin, the directory itself, its parent, a deeper
  // path, a scheme libcurl does not parse.
  std::optional<ChildLink> Child(std::string_view href) const;

 private:
  LinkResolver(CurlUrl base, const DirectoryUrl& directory) : directory_(&directory) {
    Rebase(std::move(base));
  }
  void Rebase(CurlUrl base);
  std::optional<ChildLink> ChildOfPath(std::string_view path) const;

  CurlUrl base_;
  const DirectoryUrl* directory_;
  bool base_on_origin_ = false;  // whether base_ is on the directory's origin
  // base_'s path up to its last '/': a plain relative path resolves to it plus the path.
  std::string base_directory_path_;
};

}  // namespace rangefs::listing
