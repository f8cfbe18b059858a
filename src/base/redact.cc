#include "rangefs/redact.h"

#include <algorithm>
#include <vector>

namespace rangefs {
namespace {

constexpr std::string_view kMask = "***";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 3986 reg-name: unreserved, percent-encoded and sub-delims characters.
bool IsRegNameChar(char c) {
  return IsAlnum(c) || std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
}

bool AllDigits(std::string_view text) { return std::all_of(text.begin(), text.end(), IsDigit); }

// Whether what follows the userinfo (or a whole authority without '@') is a plain "host",
// "host:port" or "[v6]:port". Anything else (a port that is empty or not a number, two colons
// outside brackets) is how a password with an unencoded '/', '?' or '#' in it looks once the
// URL is cut at that character.
bool IsPlainHostPort(std::string_view authority) {
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view literal = authority.substr(1, close - 1);
    const bool literal_ok = std::all_of(literal.begin(), literal.end(), [](char c) {
      return IsAlnum(c) || c == ':' || c == '.' || c == '%' || c == '-' || c == '_' || c == '~';
    });
    if (!literal_ok) return false;
    const std::string_view rest = authority.substr(close + 1);
    if (rest.empty()) return true;
    if (!rest.starts_with(':')) return false;
    port = rest.substr(1);
  } else {
    const size_t colon = authority.find(':');
    const std::string_view host = authority.substr(0, colon);
    if (!std::all_of(host.begin(), host.end(), IsRegNameChar)) return false;
    if (colon == std::string_view::npos) return true;
    port = authority.substr(colon + 1);
  }
  return !port.empty() && AllDigits(port);
}

// "user:***" for "user:password", "***" for a lone user name or token.
std::string RedactUserinfo(std::string_view userinfo) {
  const size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) return std::string(kMask);
  return std::string(userinfo.substr(0, colon + 1)) + std::string(kMask);
}

bool IsSchemeChar(char c) { return IsAlnum(c) || c == '+' || c == '-' || c == '.'; }

// Where the authority (userinfo@host:port) of `url` begins: after the slashes that follow its
// "scheme:" (libcurl also takes "https:///h" and backslashes), after a leading "//", else at
// the start (libcurl guesses "http://" for a URL without scheme). A "scheme:/" further on
// counts only if nothing before it belongs to a URL ("NAME=https://..." does; the query in
// "user:pw@h/x?next=http://..." does not).
size_t AuthorityStart(std::string_view url) {
  size_t start = 0;
  if (const size_t colon = std::min(url.find(":/"), url.find(":\\"));
      colon != std::string_view::npos) {
    size_t scheme = colon;
    while (scheme > 0 && IsSchemeChar(url[scheme - 1])) --scheme;
    const bool prefix_is_text =
        url.substr(0, scheme).find_first_of("@/?#\\") == std::string_view::npos;
    if (prefix_is_text) start = colon + 1;
  }
  if (start == 0 && !url.starts_with("//") && !url.starts_with("\\\\")) return 0;
  while (start < url.size() && (url[start] == '/' || url[start] == '\\')) ++start;
  return start;
}

// Where the userinfo that starts at `start` ends (the position of its '@'), or npos. Errs on
// the side of hiding: a userinfo with an unencoded '/', '?', '#' or '@' in it looks like a
// host followed by a path, and is still found.
size_t UserinfoEnd(std::string_view url, size_t start) {
  const size_t authority_end = std::min(url.find_first_of("/?#", start), url.size());
  const std::string_view authority = url.substr(start, authority_end - start);
  size_t end = std::string_view::npos;
  std::string_view host_port = authority;
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    end = start + at;
    host_port = authority.substr(at + 1);
  }
  if (!IsPlainHostPort(host_port)) {
    // "alice:pa/ss@h": not a host and port, so a broken URL. Everything up to the last '@'
    // may be userinfo.
    const size_t at = url.rfind('@');
    return at != std::string_view::npos && at > start ? at : end;
  }
  if (authority_end == url.size()) return end;
  const size_t segment = authority_end + 1;
  if (end == std::string_view::npos && !authority.starts_with('[') &&
      authority.find(':') != std::string_view::npos) {
    // "alice:123#x/y@h": a password starting with digits looks like a port. The last '@' that
    // does not start a path segment ("/@v/list") may end a userinfo.
    for (size_t at = url.rfind('@'); at != std::string_view::npos && at >= segment;
         at = at == 0 ? std::string_view::npos : url.rfind('@', at - 1)) {
      if (url[at - 1] != '/') return at;
    }
    return end;
  }
  // "token/xyz@h", "alice:p@ss/word@h": a '@' inside the first segment after the "host" ends
  // a userinfo; at the segment's start ("/@scope/pkg") only when a userinfo was seen already
  // ("alice:p@ss/@h").
  const size_t segment_end = std::min(url.find_first_of("/?#", segment), url.size());
  const size_t at = url.substr(0, segment_end).find('@', segment);
  if (at != std::string_view::npos && (at > segment || end != std::string_view::npos)) return at;
  return end;
}

// Query parameters that carry secrets in signed and token-bearing URLs (S3 and GCS presigned
// URLs, Azure SAS, API keys): their values are hidden, their names kept.
bool IsSecretParameter(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  static constexpr std::string_view kExact[] = {"sig", "key", "auth", "code", "apikey"};
  static constexpr std::string_view kContains[] = {
      "signature", "token", "credential", "secret", "password", "passwd", "api_key", "access_key"};
  for (const std::string_view exact : kExact) {
    if (lower == exact) return true;
  }
  for (const std::string_view part : kContains) {
    if (lower.find(part) != std::string::npos) return true;
  }
  return false;
}

// `url` with the values of secret query parameters replaced by "***".
std::string RedactQuerySecrets(std::string url) {
  const size_t query = url.find('?');
  if (query == std::string::npos) return url;
  const size_t fragment = std::min(url.find('#', query), url.size());
  std::string result = url.substr(0, query + 1);
  size_t at = query + 1;
  while (at <= fragment) {
    const size_t next = std::min(url.find('&', at), fragment);
    const std::string_view parameter(url.data() + at, next - at);
    const size_t equals = parameter.find('=');
    if (equals != std::string_view::npos && IsSecretParameter(parameter.substr(0, equals))) {
      result += parameter.substr(0, equals + 1);
      result += "***";
    } else {
      result += parameter;
    }
    if (next == fragment) break;
    result += '&';
    at = next + 1;
  }
  result += url.substr(fragment);
  return result;
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  const size_t start = AuthorityStart(url);
  const size_t end = UserinfoEnd(url, start);
  if (end == std::string_view::npos || end == start) return RedactQuerySecrets(std::string(url));
  std::string redacted(url.substr(0, start));
  redacted += RedactUserinfo(url.substr(start, end - start));
  redacted += url.substr(end);
  return RedactQuerySecrets(std::move(redacted));
}

std::string RedactUrlsIn(std::string_view text, std::span<const std::string> urls) {
  // Longest first: an operand "NAME=URL" is redacted whole before its URL alone is looked for.
  std::vector<std::string_view> by_length(urls.begin(), urls.end());
  std::sort(by_length.begin(), by_length.end(),
            [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
  std::string result(text);
  for (const std::string_view url : by_length) {
    if (url.empty()) continue;
    const std::string redacted = RedactUrl(url);
    if (redacted == url) continue;
    for (size_t at = result.find(url); at != std::string::npos;
         at = result.find(url, at + redacted.size())) {
      result.replace(at, url.size(), redacted);
    }
  }
  return result;
}

}  // namespace rangefs
