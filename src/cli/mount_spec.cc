#include "cli/mount_spec.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <unordered_set>
#include <utility>

#include "listing/curl_url.h"
#include "listing/url_resolution.h"

namespace rangefs {
namespace {

using listing::CurlUrl;
using listing::PercentDecode;
using listing::UrlPart;

Status BadUrl(std::string_view url, std::string_view why) {
  return Status(ErrorCode::kInvalidArgument, std::string(url) + ": " + std::string(why));
}

// The parts of a URL a name and a kind come from, as libcurl parses them: so what is accepted
// here is what the HTTP engine accepts later. `path` and `query` are still percent-encoded.
struct UrlParts {
  std::string host;
  std::string path;   // "/" at least: libcurl gives "https://h" the path "/"
  std::string query;  // without the '?'; empty when there is none
};

Result<UrlParts> ParseUrl(std::string_view url) {
  CurlUrl handle(curl_url());
  if (!handle) return Status(ErrorCode::kInternal, "out of memory");
  const std::string text(url);
  if (text.find('\0') != std::string::npos) return BadUrl(url, "contains NUL");
  if (const CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0); rc) {
    return BadUrl(url, curl_url_strerror(rc));
  }
  const std::optional<std::string> scheme = UrlPart(handle.get(), CURLUPART_SCHEME);
  if (!scheme) return BadUrl(url, "no scheme");
  if (*scheme != "http" && *scheme != "https") {
    return BadUrl(url, "only http and https URLs are supported");
  }
  std::optional<std::string> host = UrlPart(handle.get(), CURLUPART_HOST);
  if (!host) return BadUrl(url, "no host");
  std::optional<std::string> path = UrlPart(handle.get(), CURLUPART_PATH);
  if (!path) return BadUrl(url, "no path");
  UrlParts parts;
  parts.host = std::move(*host);
  parts.path = std::move(*path);
  parts.query = UrlPart(handle.get(), CURLUPART_QUERY).value_or("");
  return parts;
}

// "a/b//" -> "b"; "/" -> "".
std::string_view LastNonEmptySegment(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The percent-decoded value of the first `key` parameter of `query`, if there is one.
std::optional<std::string> QueryParameter(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t equals = pair.find('=');
    if (PercentDecode(pair.substr(0, equals)) != key) continue;
    return equals == std::string_view::npos ? std::string()
                                            : PercentDecode(pair.substr(equals + 1));
  }
  return std::nullopt;
}

bool IsS3ListQuery(std::string_view query) { return QueryParameter(query, "list-type") == "2"; }

SpecKind KindOf(const UrlParts& parts) {
  return parts.path.ends_with('/') || IsS3ListQuery(parts.query) ? SpecKind::kDirectory
                                                                 : SpecKind::kFile;
}

// "bucket.s3.amazonaws.com" -> "bucket"; an IP address ("127.0.0.1", "[::1]") stays whole.
std::string FirstHostLabel(std::string_view host) {
  const bool ip = host.starts_with('[') || std::all_of(host.begin(), host.end(), [](char c) {
                    return c == '.' || (c >= '0' && c <= '9');
                  });
  return std::string(ip ? host : host.substr(0, host.find('.')));
}

Result<std::string> FileName(std::string_view url, const UrlParts& parts) {
  const size_t slash = parts.path.rfind('/');
  const std::string_view path(parts.path);
  const std::string_view encoded = slash == std::string::npos ? path : path.substr(slash + 1);
  if (encoded.empty()) return BadUrl(url, "no file name at the end of the URL path");
  std::string name = PercentDecode(encoded);
  if (Status status = CheckEntryName(name, url); !status.ok()) return status;
  return name;
}

Result<std::string> DirectoryName(std::string_view url, const UrlParts& parts) {
  std::string name;
  if (IsS3ListQuery(parts.query)) {
    const std::optional<std::string> prefix = QueryParameter(parts.query, "prefix");
    if (prefix) name = std::string(LastNonEmptySegment(*prefix));
    if (name.empty()) name = PercentDecode(LastNonEmptySegment(parts.path));
    if (name.empty()) name = FirstHostLabel(parts.host);
  } else {
    if (KindOf(parts) != SpecKind::kDirectory) {
      return BadUrl(url, "not a directory URL (its path does not end in '/')");
    }
    name = PercentDecode(LastNonEmptySegment(parts.path));
    if (name.empty()) name = parts.host;
  }
  if (Status status = CheckEntryName(name, url); !status.ok()) return status;
  return name;
}

// NAME and URL given apart: NAME must be a valid name (`context` says where it came from)
// and URL a valid URL.
Result<MountSpec> NamedSpec(std::string_view name, std::string_view url, std::string_view context) {
  if (Status status = CheckEntryName(name, context); !status.ok()) return status;
  Result<SpecKind> kind = KindOfUrl(url);
  if (!kind.ok()) return kind.status();
  return MountSpec{std::string(name), std::string(url), *kind};
}

// The entry of `urls` ("URL" or "URL1|URL2|..."), named `name` or else after its primary.
// `context` (the operand) names the culprit of an error about the mirrors.
Result<MountSpec> SpecWithMirrors(std::optional<std::string_view> name, std::string_view urls,
                                  std::string_view context) {
  const std::vector<std::string_view> addresses = SplitMirrorList(urls);
  if (addresses.size() > 1 && addresses.front().empty()) {
    return BadUrl(context, "no URL before the first '|'");
  }
  Result<MountSpec> spec =
      name ? NamedSpec(*name, addresses.front(), context) : MountSpecFromUrl(addresses.front());
  if (!spec.ok()) return spec;
  for (size_t i = 1; i < addresses.size(); ++i) {
    if (Status status = AddMirror(*spec, addresses[i]); !status.ok()) {
      return BadUrl(context, status.message());
    }
  }
  return spec;
}

}  // namespace

Status CheckEntryName(std::string_view name, std::string_view culprit) {
  if (name.empty()) return BadUrl(culprit, "empty name");
  if (name == "." || name == "..") return BadUrl(culprit, "a name may not be \".\" or \"..\"");
  if (name.find('/') != std::string_view::npos) return BadUrl(culprit, "name contains '/'");
  if (name.find('\0') != std::string_view::npos) return BadUrl(culprit, "name contains NUL");
  return Status::Ok();
}

Result<std::string> FileNameFromUrl(std::string_view url) {
  Result<UrlParts> parts = ParseUrl(url);
  if (!parts.ok()) return parts.status();
  return FileName(url, *parts);
}

Result<std::string> DirectoryNameFromUrl(std::string_view url) {
  Result<UrlParts> parts = ParseUrl(url);
  if (!parts.ok()) return parts.status();
  return DirectoryName(url, *parts);
}

Result<SpecKind> KindOfUrl(std::string_view url) {
  Result<UrlParts> parts = ParseUrl(url);
  if (!parts.ok()) return parts.status();
  return KindOf(*parts);
}

Result<MountSpec> MountSpecFromUrl(std::string_view url) {
  Result<UrlParts> parts = ParseUrl(url);
  if (!parts.ok()) return parts.status();
  const SpecKind kind = KindOf(*parts);
  Result<std::string> name =
      kind == SpecKind::kDirectory ? DirectoryName(url, *parts) : FileName(url, *parts);
  if (!name.ok()) return name.status();
  return MountSpec{std::move(name).value(), std::string(url), kind};
}

std::vector<std::string_view> SplitMirrorList(std::string_view urls) {
  std::vector<std::string_view> pieces;
  while (true) {
    const size_t bar = urls.find('|');
    pieces.push_back(urls.substr(0, bar));
    if (bar == std::string_view::npos) return pieces;
    urls.remove_prefix(bar + 1);
  }
}

Status AddMirror(MountSpec& spec, std::string_view mirror, std::string_view label) {
  if (mirror.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  std::string(label) + " is empty (nothing between two '|', or a '|' at an end)");
  }
  Result<UrlParts> parts = ParseUrl(mirror);
  if (!parts.ok()) {
    return Status(ErrorCode::kInvalidArgument, std::string(label) + " " + parts.status().message());
  }
  const std::string named = std::string(label) + " " + std::string(mirror);
  if (spec.kind == SpecKind::kFile) {
    if (KindOf(*parts) != SpecKind::kFile) {
      return BadUrl(named, "a directory URL, but " + spec.url +
                               " is a file: a file's mirror is the same file at another address");
    }
  } else {
    // MirrorMap finds a file's addresses under a mirrored directory by appending its path
    // relative to the directory's URL: that takes URLs that end with their path's '/'.
    const auto ends_its_path = [](std::string_view url) {
      return url.ends_with('/') && url.find_first_of("?#") == std::string_view::npos;
    };
    if (!ends_its_path(spec.url)) {
      return BadUrl(named, spec.url +
                               " is a directory whose URL does not end in '/' (an S3 listing "
                               "URL, or a query), which cannot have mirrors: a directory's "
                               "mirrors serve its files by their paths under it");
    }
    if (!ends_its_path(mirror)) {
      return BadUrl(named, "does not end in '/' (or has a query), but " + spec.url +
                               " is a directory: its mirror is the same tree at another "
                               "address, a URL ending in '/'");
    }
  }
  if (mirror == spec.url) return BadUrl(named, "the same URL as its primary");
  if (std::find(spec.mirrors.begin(), spec.mirrors.end(), mirror) != spec.mirrors.end()) {
    return BadUrl(named, "given twice");
  }
  spec.mirrors.emplace_back(mirror);
  return Status::Ok();
}

Result<MountSpec> ParseMountSpec(std::string_view operand) {
  const size_t equals = operand.find('=');
  if (equals != std::string_view::npos) {
    const std::string_view name = operand.substr(0, equals);
    if (name.find_first_of(":/") == std::string_view::npos) {
      return SpecWithMirrors(name, operand.substr(equals + 1), operand);
    }
  }
  return SpecWithMirrors(std::nullopt, operand, operand);
}

Result<MountSpec> ParseNamedMountSpec(std::string_view name, std::string_view urls) {
  return SpecWithMirrors(name, urls, "--name " + std::string(name));
}

Result<std::vector<MountSpec>> ParseMountSpecs(std::span<const std::string> operands) {
  std::vector<MountSpec> specs;
  specs.reserve(operands.size());
  std::unordered_set<std::string> names;
  for (const std::string& operand : operands) {
    Result<MountSpec> spec = ParseMountSpec(operand);
    if (!spec.ok()) return spec.status();
    if (!names.insert(spec->name).second) {
      return Status(ErrorCode::kInvalidArgument,
                    operand + ": another URL already has the name \"" + spec->name + "\"");
    }
    specs.push_back(std::move(spec).value());
  }
  return specs;
}

}  // namespace rangefs
