// The command line's operands (ParseMountSpecs, ParseMountSpec, FileNameFromUrl,
// DirectoryNameFromUrl, KindOfUrl), which run
// libcurl's URL parser. Input: operands, one a line.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cli/mount_spec.h"
#include "fuzz_check.h"

namespace rangefs::fuzz {
namespace {

// What the mount directory can show: a single path component.
void CheckName(std::string_view name) {
  FUZZ_CHECK(!name.empty());
  FUZZ_CHECK(name != "." && name != "..");
  FUZZ_CHECK(name.find('/') == std::string_view::npos);
  FUZZ_CHECK(name.find('\0') == std::string_view::npos);
}

void CheckFailure(const Status& status) {
  FUZZ_CHECK(!status.ok());
  FUZZ_CHECK(status.code() == ErrorCode::kInvalidArgument || status.code() == ErrorCode::kInternal);
  FUZZ_CHECK(!status.message().empty());
}

// One operand on its own.
void CheckOperand(const std::string& operand) {
  const Result<std::string> derived = FileNameFromUrl(operand);
  if (derived.ok()) {
    CheckName(*derived);
    FUZZ_CHECK(operand.find(':') != std::string::npos);  // a scheme, at least
  } else {
    CheckFailure(derived.status());
  }

  const Result<MountSpec> spec = ParseMountSpec(operand);
  if (!spec.ok()) {
    CheckFailure(spec.status());
    return;
  }
  CheckName(spec->name);
  FUZZ_CHECK(spec->probe_at_mount);
  const Result<SpecKind> kind = KindOfUrl(spec->url);
  FUZZ_CHECK(kind.ok());
  FUZZ_CHECK(*kind == spec->kind);
  // The addresses as written: the primary, then its mirrors after '|'.
  std::string addresses = spec->url;
  for (const std::string& mirror : spec->mirrors) {
    FUZZ_CHECK(mirror != spec->url);
    const Result<SpecKind> mirror_kind = KindOfUrl(mirror);
    FUZZ_CHECK(mirror_kind.ok());
    FUZZ_CHECK(*mirror_kind == spec->kind);
    addresses += "|" + mirror;
  }
  if (addresses == operand) {
    // Plain URLs: the entry is named by the primary's last path segment (a file), or as a
    // directory.
    FUZZ_CHECK(MountSpecFromUrl(spec->url).ok());
    if (spec->kind == SpecKind::kFile) {
      const Result<std::string> primary_name = FileNameFromUrl(spec->url);
      FUZZ_CHECK(primary_name.ok());
      FUZZ_CHECK(spec->name == *primary_name);
      if (spec->mirrors.empty()) FUZZ_CHECK(derived.ok() && spec->name == *derived);
    } else {
      const Result<std::string> directory = DirectoryNameFromUrl(spec->url);
      FUZZ_CHECK(directory.ok());
      FUZZ_CHECK(spec->name == *directory);
    }
  } else {
    // NAME=URL[|MIRROR]...: the name is everything before the first '=', and has no ':'.
    FUZZ_CHECK(operand == spec->name + "=" + addresses);
    FUZZ_CHECK(spec->name.find_first_of("=:") == std::string::npos);
  }
}

}  // namespace
}  // namespace rangefs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rangefs;
  std::vector<std::string> operands;
  for (const std::string_view line : fuzz::SplitLines(fuzz::AsText(data, size))) {
    operands.emplace_back(line);
    if (operands.size() == 8) break;  // more only repeats the work
  }
  for (const std::string& operand : operands) fuzz::CheckOperand(operand);

  const Result<std::vector<MountSpec>> specs = ParseMountSpecs(operands);
  if (!specs.ok()) {
    fuzz::CheckFailure(specs.status());
    return 0;
  }
  // Every operand is one entry, in order, and no two share a name.
  FUZZ_CHECK(specs->size() == operands.size());
  std::set<std::string, std::less<>> names;
  for (size_t i = 0; i < operands.size(); ++i) {
    const MountSpec& spec = (*specs)[i];
    const Result<MountSpec> alone = ParseMountSpec(operands[i]);
    FUZZ_CHECK(alone.ok());
    FUZZ_CHECK(*alone == spec);
    FUZZ_CHECK(names.insert(spec.name).second);
  }
  return 0;
}
