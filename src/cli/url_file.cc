#include "cli/url_file.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <unordered_map>

#include "rangefs/redact.h"

namespace rangefs {
namespace {

std::string_view Trim(std::string_view text) {
  constexpr std::string_view kBlanks = " \t\r\v\f";
  const size_t first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlanks) - first + 1);
}

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    const char c =
        text[i] >= 'A' && text[i] <= 'Z' ? static_cast<char>(text[i] - 'A' + 'a') : text[i];
    if (c != prefix[i]) return false;
  }
  return true;
}

bool StartsWithHttpScheme(std::string_view text) {
  return StartsWithIgnoringCase(text, "http://") || StartsWithIgnoringCase(text, "https://");
}

// Where PATH ends in "PATH=URL": the first '=' followed by an http(s) URL. A valid PATH cannot
// contain "=http://" (the "//" would be an empty segment), so this split is the only one that
// can be valid.
size_t FindPathEnd(std::string_view line) {
  for (size_t equals = line.find('='); equals != std::string_view::npos;
       equals = line.find('=', equals + 1)) {
    if (StartsWithHttpScheme(line.substr(equals + 1))) return equals;
  }
  return std::string_view::npos;
}

// The reason a PATH of a URL file is not one, or empty if it is.
std::string_view PathProblem(std::string_view path) {
  if (path.empty()) return "empty path before \"=\"";
  if (path.front() == '/') return "the path starts with '/'";
  if (path.back() == '/') return "the path ends with '/'";
  if (path.find('\0') != std::string_view::npos) return "the path contains NUL";
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    const std::string_view segment = path.substr(start, slash - start);
    if (segment.empty()) return "the path has an empty segment (\"//\")";
    if (segment == "." || segment == "..") return "the path has a \".\" or \"..\" segment";
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const noexcept {
    return std::hash<std::string_view>{}(text);
  }
};

// The paths of a mount and who claimed each first, so that a conflict names both sides. One
// hash lookup per path and per folder above it: no scan over earlier lines.
class Namespace {
 public:
  Namespace(std::string_view file_name, std::span<const MountSpec> operands,
            const std::vector<MountSpec>& specs)
      : file_name_(file_name), operands_(operands), specs_(specs) {
    for (size_t i = 0; i < operands.size(); ++i) {
      claims_.emplace(operands[i].name, Claim{0, i, false});
    }
  }

  void Reserve(size_t paths) { claims_.reserve(paths + operands_.size()); }

  // Claims `path` for specs_[index], from line `line`, and every folder above it.
  Status Add(std::string_view path, size_t line, size_t index) {
    for (size_t slash = path.find('/'); slash != std::string_view::npos;
         slash = path.find('/', slash + 1)) {
      const std::string_view folder = path.substr(0, slash);
      const auto it = claims_.find(folder);
      if (it == claims_.end()) {
        claims_.emplace(std::string(folder), Claim{line, index, true});
      } else if (!it->second.folder) {
        return Error(line, "\"" + std::string(path) + "\" needs a folder \"" + std::string(folder) +
                               "\", but " + Describe(it->second) +
                               (it->second.line == 0 ? " is named so" : " names an entry so"));
      }
    }
    const auto it = claims_.find(path);
    if (it == claims_.end()) {
      claims_.emplace(std::string(path), Claim{line, index, false});
      return Status::Ok();
    }
    if (it->second.folder) {
      return Error(line, "\"" + std::string(path) + "\" is a folder already (of \"" +
                             specs_[it->second.index].name + "\" on " + Describe(it->second) +
                             "); it cannot also be an entry");
    }
    return Error(line, "duplicate path \"" + std::string(path) + "\", also " +
                           (it->second.line == 0 ? "the name of " : "on ") + Describe(it->second));
  }

  Status Error(size_t line, std::string_view what) const {
    return Status(ErrorCode::kInvalidArgument, Where(line) + ": " + std::string(what));
  }

 private:
  // Who claimed a path first: line 0 is operands_[index]; else specs_[index], from `line`.
  struct Claim {
    size_t line;
    size_t index;
    bool folder;  // made by a deeper path, not an entry of its own
  };

  std::string Where(size_t line) const { return file_name_ + ":" + std::to_string(line); }

  std::string Describe(const Claim& claim) const {
    if (claim.line == 0) return "the operand " + RedactUrl(operands_[claim.index].url);
    return Where(claim.line);
  }

  const std::string file_name_;
  const std::span<const MountSpec> operands_;
  const std::vector<MountSpec>& specs_;
  std::unordered_map<std::string, Claim, StringHash, std::equal_to<>> claims_;
};

// Where the URLs of a line start ("URL" or "URL1|URL2|..."), or npos if they do not.
size_t UrlsStart(std::string_view line) {
  if (StartsWithHttpScheme(line)) return 0;
  const size_t path_end = FindPathEnd(line);
  return path_end == std::string_view::npos ? path_end : path_end + 1;
}

// The entry of a line's primary URL, `url`, which starts at `urls_start` in `line`.
Result<MountSpec> PrimaryOf(std::string_view line, size_t urls_start, std::string_view url) {
  if (urls_start == 0) return MountSpecFromUrl(url);
  const std::string_view path = line.substr(0, urls_start - 1);
  if (const std::string_view problem = PathProblem(path); !problem.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "\"" + std::string(path) + "\": " + std::string(problem));
  }
  Result<SpecKind> kind = KindOfUrl(url);
  if (!kind.ok()) return kind.status();
  return MountSpec{std::string(path), std::string(url), *kind};
}

// One line, trimmed and not a comment, as an entry.
Result<MountSpec> ParseLine(std::string_view line) {
  const size_t urls_start = UrlsStart(line);
  if (urls_start == std::string_view::npos) {
    return Status(ErrorCode::kInvalidArgument,
                  line.find('=') == std::string_view::npos
                      ? "expected a URL (http:// or https://) or PATH=URL"
                      : "PATH=URL without an http:// or https:// URL right after an \"=\" (no "
                        "spaces around it)");
  }
  // The first URL is the primary: it names the entry and decides its kind.
  const std::vector<std::string_view> urls = SplitMirrorList(line.substr(urls_start));
  Result<MountSpec> spec = PrimaryOf(line, urls_start, urls.front());
  if (!spec.ok()) return spec;
  for (size_t i = 1; i < urls.size(); ++i) {
    if (Status status = AddMirror(*spec, urls[i]); !status.ok()) return status;
  }
  return spec;
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

Result<std::vector<MountSpec>> ParseUrlFile(std::string_view text, std::string_view file_name,
                                            std::span<const MountSpec> operands) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark
  std::vector<MountSpec> specs;
  Namespace paths(file_name, operands, specs);
  // One entry a line at most: reserving by the line count saves the rehashes.
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  specs.reserve(lines);
  paths.Reserve(lines);
  size_t number = 0;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    const std::string_view line = Trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++number;
    if (line.empty() || line.front() == '#') continue;

    Result<MountSpec> spec = ParseLine(line);
    if (!spec.ok()) {
      // Messages about a URL quote it: redact its credentials, as for operands.
      std::vector<std::string> urls = {std::string(line)};
      if (const size_t urls_start = UrlsStart(line); urls_start != std::string_view::npos) {
        urls.emplace_back(line.substr(urls_start));
        for (const std::string_view url : SplitMirrorList(line.substr(urls_start))) {
          urls.emplace_back(url);
        }
      }
      return paths.Error(number, RedactUrlsIn(spec.status().message(), urls));
    }
    spec->probe_at_mount = false;
    specs.push_back(std::move(spec).value());
    if (Status status = paths.Add(specs.back().name, number, specs.size() - 1); !status.ok()) {
      return status;
    }
  }
  return specs;
}

Result<std::vector<MountSpec>> ReadUrlFile(const std::string& path,
                                           std::span<const MountSpec> operands) {
  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return Status(ErrorCode::kInvalidArgument, path + ": " + std::strerror(errno));
  std::string text;
  char buffer[65536];
  while (const size_t n = std::fread(buffer, 1, sizeof buffer, file.get())) text.append(buffer, n);
  if (std::ferror(file.get())) {
    return Status(ErrorCode::kInvalidArgument, path + ": " + std::strerror(errno));  // EISDIR
  }
  return ParseUrlFile(text, path, operands);
}

}  // namespace rangefs
