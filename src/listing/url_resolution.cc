#include "listing/url_resolution.h"

#include <algorithm>
#include <cctype>

namespace rangefs::listing {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// The byte "%XX" at text[i] stands for, when text[i] starts a valid escape.
std::optional<char> EscapeAt(std::string_view text, size_t i) {
  if (text[i] != '%' || i + 2 >= text.size()) return std::nullopt;
  const int high = HexValue(text[i + 1]);
  const int low = HexValue(text[i + 2]);
  if (high < 0 || low < 0) return std::nullopt;
  return static_cast<char>(high * 16 + low);
}

void AppendEscape(std::string& out, unsigned char byte) {
  out += '%';
  out += kHex[byte >> 4];
  out += kHex[byte & 0xF];
}

// "scheme://host:port", or nullopt when the URL has no host.
std::optional<std::string> OriginOf(CURLU* url) {
  const std::optional<std::string> scheme = UrlPart(url, CURLUPART_SCHEME, 0);
  const std::optional<std::string> host = UrlPart(url, CURLUPART_HOST, 0);
  if (!scheme || !host || host->empty()) return std::nullopt;
  const std::optional<std::string> port = UrlPart(url, CURLUPART_PORT, CURLU_DEFAULT_PORT);
  return AsciiLower(*scheme) + "://" + AsciiLower(*host) + ":" + port.value_or("");
}

constexpr unsigned int kParseFlags = CURLU_NON_SUPPORT_SCHEME | CURLU_ALLOW_SPACE;

Status NotAbsolute(std::string_view what) {
  return Status(ErrorCode::kInvalidArgument, std::string(what) + " is not an absolute URL");
}

Result<CurlUrl> ParseAbsolute(std::string_view text, std::string_view what) {
  CurlUrl url(curl_url());
  if (!url) return Status(ErrorCode::kInternal, "out of memory");
  const std::string copy(text);
  if (copy.find('\0') != std::string::npos ||
      curl_url_set(url.get(), CURLUPART_URL, copy.c_str(), kParseFlags) != CURLUE_OK ||
      !OriginOf(url.get())) {
    return NotAbsolute(what);
  }
  return url;
}

std::string_view TrimAsciiWhitespace(std::string_view s) {
  // HTML strips leading and trailing ASCII whitespace from an href before parsing it.
  constexpr std::string_view kSpace = " \t\n\f\r";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// Whether a reference starts with a scheme (RFC 3986 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" /
// "." ) ":") or is a network-path reference ("//host/..."): only those can leave the origin.
bool MayLeaveOrigin(std::string_view ref) {
  if (ref.starts_with("//")) return true;
  if (ref.empty() || !std::isalpha(static_cast<unsigned char>(ref[0]))) return false;
  for (const char c : ref) {
    if (c == ':') return true;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return false;
}

// A relative-path reference (RFC 3986 4.2) that resolves by plain concatenation: it does not
// start with '/', has no "." or ".." segment, and holds only characters libcurl passes through
// unchanged (unreserved, sub-delims, ':', '@', '/', '%').
bool IsPlainRelativePath(std::string_view ref) {
  if (ref.empty() || ref.front() == '/') return false;
  for (const char c : ref) {
    if (!IsUnreserved(c) && std::string_view("!$&'()*+,;=:@/%").find(c) == std::string_view::npos) {
      return false;
    }
  }
  size_t start = 0;
  while (start <= ref.size()) {
    const size_t end = std::min(ref.find('/', start), ref.size());
    const std::string_view segment = ref.substr(start, end - start);
    if (segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (const std::optional<char> byte = EscapeAt(text, i)) {
      out += *byte;
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out += c;
    } else {
      AppendEscape(out, static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::string NormalizePercentEncoding(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (const std::optional<char> byte = EscapeAt(text, i)) {
      if (IsUnreserved(*byte)) {
        out += *byte;
      } else {
        AppendEscape(out, static_cast<unsigned char>(*byte));
      }
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

Result<DirectoryUrl> DirectoryUrl::Parse(std::string_view text) {
  Result<CurlUrl> parsed = ParseAbsolute(text, "the directory URL");
  if (!parsed.ok()) return parsed.status();
  CURLU* const url = parsed->get();
  DirectoryUrl directory;
  directory.origin_ = *OriginOf(url);
  directory.query_ = UrlPart(url, CURLUPART_QUERY, 0).value_or("");
  curl_url_set(url, CURLUPART_FRAGMENT, nullptr, 0);
  curl_url_set(url, CURLUPART_QUERY, nullptr, 0);
  std::optional<std::string> without_query = UrlPart(url, CURLUPART_URL, 0);
  std::optional<std::string> path = UrlPart(url, CURLUPART_PATH, 0);
  if (!without_query || !path) return NotAbsolute("the directory URL");
  directory.without_query_ = *without_query;
  directory.base_ = std::move(*without_query);
  if (!path->ends_with('/')) {
    directory.base_ += '/';
    *path += '/';
  }
  directory.normalized_path_ = NormalizePercentEncoding(*path);
  return directory;
}

Result<LinkResolver> LinkResolver::Create(std::string_view page_url,
                                          const DirectoryUrl& directory) {
  Result<CurlUrl> base = ParseAbsolute(page_url, "the page URL");
  if (!base.ok()) return base.status();
  return LinkResolver(std::move(*base), directory);
}

void LinkResolver::Rebase(CurlUrl base) {
  base_on_origin_ = OriginOf(base.get()) == directory_->origin();
  base_directory_path_ = UrlPart(base.get(), CURLUPART_PATH, 0).value_or("/");
  base_directory_path_.erase(base_directory_path_.rfind('/') + 1);
  base_ = std::move(base);
}

void LinkResolver::SetBase(std::string_view href) {
  const std::string ref(TrimAsciiWhitespace(href));
  if (ref.empty() || ref.find('\0') != std::string::npos) return;
  CurlUrl url(curl_url_dup(base_.get()));
  if (!url || curl_url_set(url.get(), CURLUPART_URL, ref.c_str(), kParseFlags) != CURLUE_OK) {
    return;
  }
  if (!OriginOf(url.get())) return;
  Rebase(std::move(url));
}

std::optional<ChildLink> LinkResolver::Child(std::string_view href) const {
  const std::string_view ref = TrimAsciiWhitespace(href);
  // An empty reference is the page itself; '?' and '#' always open a query or a fragment
  // (sort links, anchors); NUL cannot reach libcurl.
  if (ref.empty() || ref.find_first_of(std::string_view("?#\0", 3)) != std::string_view::npos) {
    return std::nullopt;
  }
  const bool may_leave = MayLeaveOrigin(ref);
  if (!may_leave && !base_on_origin_) return std::nullopt;
  if (!may_leave && IsPlainRelativePath(ref)) {
    // The common case, thousands of times a page: resolution is the base's directory plus the
    // reference (RFC 3986 5.2.2 and 5.2.3, with no dot segment to remove), as libcurl would
    // make it, without its allocations.
    return ChildOfPath(base_directory_path_ + std::string(ref));
  }
  CurlUrl url(curl_url_dup(base_.get()));
  if (!url) return std::nullopt;
  const std::string copy(ref);
  if (curl_url_set(url.get(), CURLUPART_URL, copy.c_str(), kParseFlags) != CURLUE_OK) {
    return std::nullopt;
  }
  if (may_leave && OriginOf(url.get()) != directory_->origin()) return std::nullopt;
  const std::optional<std::string> path = UrlPart(url.get(), CURLUPART_PATH, 0);
  if (!path) return std::nullopt;
  return ChildOfPath(*path);
}

std::optional<ChildLink> LinkResolver::ChildOfPath(std::string_view path) const {
  const std::string normalized = NormalizePercentEncoding(path);
  const std::string& parent = directory_->normalized_path();
  if (!normalized.starts_with(parent)) return std::nullopt;
  std::string_view rest = std::string_view(normalized).substr(parent.size());
  if (rest.empty()) return std::nullopt;  // the directory itself
  ChildLink child;
  if (rest.ends_with('/')) {
    child.is_directory = true;
    rest.remove_suffix(1);
  }
  // An empty segment ("dir//") is kept, for the caller to skip as an empty name.
  if (rest.find('/') != std::string_view::npos) return std::nullopt;
  child.segment = std::string(rest);
  return child;
}

}  // namespace rangefs::listing
