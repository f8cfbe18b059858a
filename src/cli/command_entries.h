// What a command line (the mount's or `rangefs warm`'s) names: its entries, in order (the URL
// operands, or the one --name names; then the URL file's lines), with the addresses --mirror
// adds to the single operand folded into that entry's mirrors, and the MirrorMap of every
// entry's mirrors, which the sources are built with.
//
// Thread-safety: pure functions (EntriesOf reads the URL file).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/mount_spec.h"
#include "rangefs/mirror_map.h"
#include "rangefs/status.h"

namespace rangefs {

struct EntryArguments {
  std::span<const std::string> operands = {};     // [NAME=]URL[|MIRROR]..., in order
  std::string_view name = {};                     // --name, for the single operand; empty: none
  std::span<const std::string> mirror_urls = {};  // --mirror, in order
  std::string url_file = {};                      // --url-file; empty: none
};

// The entries of `arguments`: the operands (ParseMountSpecs, or ParseNamedMountSpec with a
// name), then `mirror_urls` appended to the single operand's mirrors (AddMirror, after those
// its "URL1|URL2" gave), then the URL file's entries (ReadUrlFile). Fails (kInvalidArgument) at
// the first problem, naming the operand, the --mirror or the file's line; --mirror with other
// than one operand, or with a URL file, is such a problem (the message says to write
// NAME=URL1|URL2). URLs in messages have their credentials redacted.
Result<std::vector<MountSpec>> EntriesOf(const EntryArguments& arguments);

// Every entry's mirrors as rules: (entry's URL, mirror) in entry order, then mirror order.
MirrorMap MirrorMapFrom(std::span<const MountSpec> specs);

}  // namespace rangefs
