#include "cli/mount_options.h"

#include <algorithm>
#include <optional>

namespace rangefs {
namespace {

// mount(8), fstab and systemd options about when and by whom a file system is mounted.
// mount(8) and mount.fuse3 usually drop them, but an fstab line's options may reach rangefs
// as they are (copied into `rangefs -o ...` by hand, or through a helper that keeps them).
constexpr std::string_view kMountCommandOptions[] = {
    "defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group", "_netdev", "nofail",
};
// A rangefs mount is always ro,nosuid,nodev: nothing can be written, and its files are plain
// 0444 files, never device files or set-user-ID programs, so these change nothing. "rw",
// "dev" and "suid" must still be accepted: mount(8) turns `defaults` into "rw" and
// mount.fuse3 adds "dev,suid" to every mount it makes.
constexpr std::string_view kFixedFlags[] = {"ro", "rw", "suid", "nosuid", "dev", "nodev"};
// Access times: a read-only file system never updates one (libfuse refuses several of them).
constexpr std::string_view kAccessTimeOptions[] = {
    "atime",         "noatime",  "relatime",   "norelatime", "strictatime",
    "nostrictatime", "lazytime", "nolazytime", "diratime",   "nodiratime",
};

bool Contains(std::span<const std::string_view> list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

bool IsOctalDigit(char c) { return c >= '0' && c <= '7'; }

// The first `c` at or after `from` that no backslash escapes (an escaped character belongs to
// the text, whatever it is), or text.size().
size_t FindUnescaped(std::string_view text, char c, size_t from = 0) {
  for (size_t i = from; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == c) {
      return i;
    }
  }
  return text.size();
}

// Splits a `-o` list at the commas that are not escaped. The items keep their escapes.
std::vector<std::string_view> SplitOptionList(std::string_view list) {
  std::vector<std::string_view> items;
  size_t start = 0;
  while (true) {
    const size_t comma = FindUnescaped(list, ',', start);
    items.push_back(list.substr(start, comma - start));
    if (comma == list.size()) return items;
    start = comma + 1;
  }
}

// libfuse's reading of an escaped option (fuse_opt.c): "\ooo" is an octal byte, a backslash
// before anything else stands for that character.
std::string Unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out.push_back(text[i]);
      continue;
    }
    ++i;
    if (i + 2 < text.size() && text[i] >= '0' && text[i] <= '3' && IsOctalDigit(text[i + 1]) &&
        IsOctalDigit(text[i + 2])) {
      const int byte = (text[i] - '0') * 64 + (text[i + 1] - '0') * 8 + (text[i + 2] - '0');
      out.push_back(static_cast<char>(byte));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// Where the key of an escaped item ends: its first unescaped '=', or its end.
size_t KeyEnd(std::string_view item) { return FindUnescaped(item, '='); }

const LongOption* FindLongOption(std::span<const LongOption> long_options, std::string_view key) {
  std::string name(key);
  std::replace(name.begin(), name.end(), '_', '-');
  for (const LongOption& option : long_options) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

// Appends what one `-o LIST` becomes to `out`.
Status TranslateList(std::string_view list, std::span<const LongOption> long_options,
                     std::vector<std::string>& out) {
  std::vector<std::string_view> for_fuse;
  for (const std::string_view item : SplitOptionList(list)) {
    if (item.empty()) continue;  // "ro,,x" or a trailing comma
    const size_t key_end = KeyEnd(item);
    const std::string key = Unescape(item.substr(0, key_end));
    const std::optional<std::string> value =
        key_end == item.size() ? std::nullopt
                               : std::optional<std::string>(Unescape(item.substr(key_end + 1)));
    if (const LongOption* option = FindLongOption(long_options, key)) {
      if (value) {
        out.push_back("--" + option->name + "=" + *value);
      } else if (!option->takes_value) {
        out.push_back("--" + option->name);
      } else {
        return Status(ErrorCode::kInvalidArgument, "-o " + key + " needs a value (-o " + key +
                                                       "=VALUE, like --" + option->name +
                                                       " VALUE)");
      }
      continue;
    }
    if (ClassifyForeignMountOption(Unescape(item)) == ForeignMountOption::kFuse) {
      for_fuse.push_back(item);
    }
  }
  if (!for_fuse.empty()) {
    std::string joined;
    for (const std::string_view item : for_fuse) {
      if (!joined.empty()) joined += ',';
      joined += item;
    }
    out.push_back("-o");
    out.push_back(std::move(joined));
  }
  return Status::Ok();
}

}  // namespace

ForeignMountOption ClassifyForeignMountOption(std::string_view option) {
  if (Contains(kMountCommandOptions, option) || Contains(kFixedFlags, option) ||
      Contains(kAccessTimeOptions, option) || option.starts_with("x-") ||
      option.starts_with("comment=")) {
    return ForeignMountOption::kIgnored;
  }
  return ForeignMountOption::kFuse;
}

std::string_view IgnoredMountOptionsHelp() {
  return "Accepted and ignored: ro, rw, suid, nosuid, dev, nodev (the mount is always\n"
         "ro,nosuid,nodev); atime, noatime, relatime, strictatime, lazytime, diratime and\n"
         "their no- forms (access times are never written); the options of mount(8) and\n"
         "systemd: defaults, auto, noauto, user, nouser, users, owner, group, _netdev, nofail,\n"
         "x-*, comment=*.";
}

Result<std::vector<std::string>> TranslateMountOptions(std::span<const std::string> args,
                                                       std::span<const LongOption> long_options) {
  std::vector<std::string> out;
  out.reserve(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    // "-o LIST" or "-oLIST".
    if (arg.starts_with("-o") && (arg.size() > 2 || i + 1 < args.size())) {
      const std::string_view list = arg.size() > 2 ? std::string_view(arg).substr(2) : args[++i];
      if (Status status = TranslateList(list, long_options, out); !status.ok()) return status;
      continue;
    }
    out.push_back(arg);
    // "--header VALUE": the value is the option's, even if it reads "-o".
    if (arg.starts_with("--") && arg.find('=') == std::string::npos && i + 1 < args.size()) {
      const LongOption* option = FindLongOption(long_options, std::string_view(arg).substr(2));
      if (option && option->takes_value && option->name == arg.substr(2)) out.push_back(args[++i]);
    }
  }
  return out;
}

std::string EscapeFuseOptionValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace rangefs
