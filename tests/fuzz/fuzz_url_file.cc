// URL files (ParseUrlFile): lines of URL or PATH=URL, folders, one namespace with the
// operands. Input: the file's text; its first line, if it starts with "!", is an operand.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cli/url_file.h"
#include "fuzz_check.h"

namespace rangefs::fuzz {
namespace {

// A path of the mount: plain names with '/' between them.
void CheckPath(std::string_view path) {
  FUZZ_CHECK(!path.empty());
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    const std::string_view segment = path.substr(start, slash - start);
    FUZZ_CHECK(!segment.empty());
    FUZZ_CHECK(segment != "." && segment != "..");
    FUZZ_CHECK(segment.find('\0') == std::string_view::npos);
    if (slash == std::string_view::npos) return;
    start = slash + 1;
  }
}

}  // namespace
}  // namespace rangefs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rangefs;
  std::string_view text = fuzz::AsText(data, size);
  std::vector<MountSpec> operands;
  if (text.starts_with('!')) {
    const size_t newline = text.find('\n');
    const Result<MountSpec> operand = ParseMountSpec(text.substr(1, newline - 1));
    if (operand.ok()) operands.push_back(*operand);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
  }

  const Result<std::vector<MountSpec>> specs = ParseUrlFile(text, "F", operands);
  if (!specs.ok()) {
    FUZZ_CHECK(specs.status().code() == ErrorCode::kInvalidArgument ||
               specs.status().code() == ErrorCode::kInternal);
    FUZZ_CHECK(specs.status().message().starts_with("F:"));
    return 0;
  }
  // Every entry a valid path, probed lazily, of a valid URL whose kind it has; no path twice,
  // and none both an entry and a folder (true: a folder).
  std::unordered_map<std::string, bool> paths;
  for (const MountSpec& operand : operands) paths.emplace(operand.name, false);
  for (const MountSpec& spec : *specs) {
    fuzz::CheckPath(spec.name);
    FUZZ_CHECK(!spec.probe_at_mount);
    FUZZ_CHECK(text.find(spec.url) != std::string_view::npos);
    const Result<SpecKind> kind = KindOfUrl(spec.url);
    FUZZ_CHECK(kind.ok());
    FUZZ_CHECK(*kind == spec.kind);
    FUZZ_CHECK(paths.emplace(spec.name, false).second);
  }
  for (const MountSpec& spec : *specs) {
    for (size_t slash = spec.name.find('/'); slash != std::string::npos;
         slash = spec.name.find('/', slash + 1)) {
      const auto [it, added] = paths.emplace(spec.name.substr(0, slash), true);
      FUZZ_CHECK(it->second);
    }
  }
  return 0;
}
