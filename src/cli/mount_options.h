// `-o` options the way mount(8) passes them. mount(8), an fstab line and a systemd mount unit
// reach a FUSE file system through libfuse's mount.fuse3 helper, which runs
// `rangefs SOURCE MOUNTPOINT -o OPT,OPT,...`: everything the user chose arrives as `-o`
// options. So every long command-line option also exists as `-o key[=value]`, with `_` or `-`
// between words: `--cache-size 1G` is `-o cache_size=1G`, `--foreground` is `-o foreground`,
// `--no-open-prefetch` is `-o no_open_prefetch`. TranslateMountOptions turns those back into
// long options before the command line is parsed, drops what means nothing to a read-only
// FUSE file system (see ForeignMountOption), and leaves the rest as `-o` options for libfuse.
//
// Thread-safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rangefs/status.h"

namespace rangefs {

// A long option of the command line, as the parser knows it.
struct LongOption {
  std::string name;          // without the leading "--": "cache-size", "no-open-prefetch"
  bool takes_value = false;  // false: a flag, given as `-o name` alone
};

// What becomes of a `-o` option that is not one of rangefs's own.
enum class ForeignMountOption {
  kFuse,     // passed to libfuse (allow_other, exec, noexec, max_read=N, fsname=..., ...)
  kIgnored,  // dropped, see IgnoredMountOptionsHelp()
};

// `option` is one item of a `-o` list ("noatime", "comment=x"), unescaped.
ForeignMountOption ClassifyForeignMountOption(std::string_view option);

// One line for --help and the README: which options are accepted and ignored, and why.
std::string_view IgnoredMountOptionsHelp();

// Rewrites `args` (the command line without the program name). Each `-o LIST` (or `-oLIST`)
// is split at its commas (`\,` is a comma inside a value, `\\` a backslash, `\ooo` an octal
// byte, as libfuse reads them); an item naming one of `long_options` becomes `--name=value`
// (or `--name` for a flag given without a value) at the place of the `-o`, ignored items are
// dropped, and the remaining items stay together, as given, in one `-o LIST`. Arguments after
// "--", and the value of a long option given as a separate argument (`--header -o`), are
// kept as they are.
// Fails (kInvalidArgument) for an option that takes a value but was given without one
// (`-o cache_size`).
Result<std::vector<std::string>> TranslateMountOptions(std::span<const std::string> args,
                                                       std::span<const LongOption> long_options);

// `value` escaped so that libfuse reads it back as one option value (for `fsname=`): commas
// and backslashes get a backslash.
std::string EscapeFuseOptionValue(std::string_view value);

}  // namespace rangefs
