// Turning command-line operands into the files a mount shows: "URL" or "NAME=URL".
//
// Thread-safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rangefs/status.h"

namespace rangefs {

struct MountSpec {
  std::string name;  // file name in the mount directory
  std::string url;
  friend bool operator==(const MountSpec&, const MountSpec&) = default;
};

// The file name a URL gets: its last path segment, percent-decoded
// ("https://h/a/Big%20File.iso" -> "Big File.iso"). Query and fragment are ignored. Fails
// (kInvalidArgument, naming the URL) for anything but an absolute http(s) URL with a host,
// for a URL whose path ends in "/" or is empty, and for a decoded segment that is "." or
// "..", or contains "/" or NUL.
Result<std::string> FileNameFromUrl(std::string_view url);

// Parses one operand. "NAME=URL" when the text before the first "=" contains neither ":" nor
// "/" (a URL always has "http:" before any "="), else a plain URL named by FileNameFromUrl.
// An explicit NAME obeys the same rules as a derived one.
Result<MountSpec> ParseMountSpec(std::string_view operand);

// The file `url` named `name` (--name, -o name=): `url` is taken whole, never read as
// NAME=URL, and `name` obeys the same rules as an explicit NAME.
Result<MountSpec> ParseNamedMountSpec(std::string_view name, std::string_view url);

// Parses every operand and checks that no two files share a name. The first problem found is
// returned, naming the operand responsible.
Result<std::vector<MountSpec>> ParseMountSpecs(std::span<const std::string> operands);

}  // namespace rangefs
