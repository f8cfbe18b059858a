// MirrorMap: which other addresses serve the bytes of a URL (--mirror, NAME=URL1|URL2). A file
// URL's mirror is another address of that file; a directory URL's (its path ends in '/') is
// another address of everything under it, by the same relative path, so a mirrored tree needs
// one rule. Mirrors are trusted to serve the same bytes as their primary (digests will check
// that); a mirror that serves another size is dropped for that file by the mirror source.
//
// Thread-safety: immutable once built; const members may be called from any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rangefs {

class MirrorMap {
 public:
  // `mirror` serves what `primary` serves. Both are absolute URLs; a directory's both end in
  // '/'. Rules for one primary keep their order.
  void Add(std::string primary, std::string mirror);

  // The other addresses of `url`, in the order given: those of `url` itself, then those of
  // the closest directory above it with mirrors (each with the relative path appended).
  std::vector<std::string> MirrorsOf(std::string_view url) const;

  bool empty() const { return rules_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> rules_;  // (primary, mirror), in order
};

}  // namespace rangefs
