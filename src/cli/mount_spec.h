// Turning command-line operands into the entries a mount shows: "URL" or "NAME=URL", each a
// file or a directory, and "URL1|URL2|..." (or "NAME=URL1|URL2") for one entry at several
// addresses: the first URL is the primary, the others its mirrors.
//
// Thread-safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rangefs/status.h"

namespace rangefs {

// What a URL is mounted as. A directory URL is one whose path ends in "/" ("https://h/pub/",
// and "https://h", whose path is "/"), or an S3 ListObjectsV2 URL (its query has
// "list-type=2"), whatever its path: its entries come from listings.
enum class SpecKind { kFile, kDirectory };

// One entry of the mount: an operand, the --name'd URL, or a line of a URL file.
struct MountSpec {
  // Path inside the mount. An operand's is one plain name; a URL file's may contain '/'
  // (folders), each segment a plain name.
  std::string name;
  std::string url;
  SpecKind kind = SpecKind::kFile;
  // Operands are probed (or listed) at mount, and a bad URL refuses the mount; URL-file lines
  // are probed lazily, on first use, since a file of 100,000 URLs must mount in seconds.
  bool probe_at_mount = true;
  // Other addresses of `url`, the primary (which names the entry, decides its kind and is what
  // is probed), in the order given ("URL1|URL2", --mirror): absolute http(s) URLs of the same
  // kind; a directory's, and then `url` too, end in '/'. See rangefs/mirror_map.h.
  std::vector<std::string> mirrors = {};
  friend bool operator==(const MountSpec&, const MountSpec&) = default;
};

// The file name a URL gets: its last path segment, percent-decoded
// ("https://h/a/Big%20File.iso" -> "Big File.iso"). Query and fragment are ignored. Fails
// (kInvalidArgument, naming the URL) for anything but an absolute http(s) URL with a host,
// for a URL whose path ends in "/" or is empty, and for a decoded segment that is "." or
// "..", or contains "/" or NUL.
Result<std::string> FileNameFromUrl(std::string_view url);

// The name a directory URL gets: its last non-empty path segment, percent-decoded
// ("https://h/pub/Debian%20CD/" -> "Debian CD"), or for "https://h/" the host ("h"). For an
// S3 ListObjectsV2 URL: the last non-empty segment of its percent-decoded `prefix` parameter
// ("?list-type=2&prefix=data/2024/" -> "2024"), else the last non-empty path segment (a
// path-style bucket, "https://s3.example/bucket?list-type=2"), else the host's first label
// ("https://bucket.s3.amazonaws.com/?list-type=2" -> "bucket"; an IP address stays whole).
// Fails (kInvalidArgument, naming the URL) for what is not an http(s) URL, for a URL that is
// not a directory (see SpecKind), and for a name that is "." or ".." or contains "/" or NUL.
Result<std::string> DirectoryNameFromUrl(std::string_view url);

// Whether `url` is a file or a directory (see SpecKind). Fails (kInvalidArgument, naming the
// URL) for anything but an absolute http(s) URL with a host.
Result<SpecKind> KindOfUrl(std::string_view url);

// A plain URL as an entry: its kind, and the name FileNameFromUrl or DirectoryNameFromUrl
// gives it. probe_at_mount is true.
Result<MountSpec> MountSpecFromUrl(std::string_view url);

// Whether `name` may name one entry of a directory: not empty, not "." or "..", no '/' or NUL.
// The error (kInvalidArgument) names `culprit` and what is wrong.
Status CheckEntryName(std::string_view name, std::string_view culprit);

// "URL1|URL2|..." cut at each '|' (one piece when there is none; pieces may be empty). RFC 3986
// allows no unescaped '|' in a URL (it is neither reserved nor unreserved; a URL carries it as
// %7C), so the cut never splits a valid URL.
std::vector<std::string_view> SplitMirrorList(std::string_view urls);

// Appends `mirror` to spec.mirrors when it can serve what spec.url serves: an absolute http(s)
// URL of the same kind (a file's mirror is the same file elsewhere; a directory's is the same
// tree, its files found by their paths relative to it, so the directory's URL and the mirror
// both end in '/': an S3 listing URL or one with a query cannot have mirrors), neither spec.url
// nor a mirror already given. Fails (kInvalidArgument) with a message that starts with `label`
// and the mirror ("mirror https://b/x/: ..."), naming spec.url where it is the reason.
Status AddMirror(MountSpec& spec, std::string_view mirror, std::string_view label = "mirror");

// Parses one operand. "NAME=URLS" when the text before the first "=" contains neither ":" nor
// "/" (a URL always has "http:" before any "="), else plain URLS named by MountSpecFromUrl
// after its first URL. URLS is "URL" or "URL1|URL2|...": the first is the primary, the others
// its mirrors (AddMirror). An explicit NAME obeys the same rules as a derived one; the primary
// decides the kind. A mirror's error names the operand.
Result<MountSpec> ParseMountSpec(std::string_view operand);

// The entry `urls` named `name` (--name, -o name=): `urls` is never read as NAME=URL, and
// `name` obeys the same rules as an explicit NAME. "URL1|URL2" gives mirrors as in an operand.
Result<MountSpec> ParseNamedMountSpec(std::string_view name, std::string_view urls);

// Parses every operand and checks that no two entries share a name. The first problem found
// is returned, naming the operand responsible.
Result<std::vector<MountSpec>> ParseMountSpecs(std::span<const std::string> operands);

}  // namespace rangefs
