#include "rangefs/file_key.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <utility>

namespace rangefs {
namespace {

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

size_t Mix(size_t seed, size_t value) {
  // boost::hash_combine's step: good enough to spread four fields over one word.
  return seed ^ (value + 0x9E3779B97F4A7C15ULL + (seed << 6) + (seed >> 2));
}

}  // namespace

FileKey::FileKey(std::string canonical_url, uint64_t size, std::string validator,
                 uint64_t block_size)
    : url_(std::move(canonical_url)),
      size_(size),
      validator_(std::move(validator)),
      block_size_(block_size) {
  size_t h = std::hash<std::string>{}(url_);
  h = Mix(h, std::hash<uint64_t>{}(size_));
  h = Mix(h, std::hash<std::string>{}(validator_));
  hash_ = Mix(h, std::hash<uint64_t>{}(block_size_));
}

FileKey FileKey::Of(const RemoteFileInfo& info, uint64_t block_size) {
  return FileKey(CanonicalUrl(info.url), info.size, VersionValidator(info), block_size);
}

std::string FileKey::ToString() const {
  std::string text = url_ + " " + std::to_string(size_);
  if (!validator_.empty()) text += " " + validator_;
  return text + " block " + std::to_string(block_size_);
}

std::string CanonicalUrl(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return std::string(url);
  const std::string scheme = Lower(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  // The fragment never reaches the server.
  rest = rest.substr(0, rest.find('#'));
  const size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path_and_query =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);

  // Credentials are not part of what the file is, and must not end up in a key.
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  // The port follows the last ':' after an IPv6 literal's ']'.
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  std::string_view host = authority;
  std::string_view port;
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::string(url);
  const bool default_port =
      port.empty() || (scheme == "http" && port == "80") || (scheme == "https" && port == "443");

  std::string canonical = scheme + "://" + Lower(host);
  if (!default_port) canonical += ":" + std::string(port);
  if (path_and_query.empty() || path_and_query.front() == '?') canonical += "/";
  canonical += path_and_query;
  return canonical;
}

std::string VersionValidator(const RemoteFileInfo& info) {
  // Every validator the server sent, as SameVersion compares them: a strong ETag alone would
  // name the bytes, but a weak one with a one-second Last-Modified may not, and keys must never
  // be equal for two versions this mount tells apart.
  std::string validator;
  if (!info.etag.empty()) validator = "etag " + info.etag;
  if (info.last_modified) {
    if (!validator.empty()) validator += " ";
    validator += "last-modified " + std::to_string(*info.last_modified);
  }
  return validator;
}

}  // namespace rangefs
