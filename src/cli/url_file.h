// URL files (--url-file FILE, -o url_file=FILE): the entries of a mount listed in a text file,
// for mounts of many files (100,000 lines parse in a fraction of a second).
//
// The format, one entry a line:
//   URL             an http:// or https:// URL, named as an operand is (MountSpecFromUrl):
//                   a file by its last path segment, a directory by its last segment or host
//   PATH=URL        PATH inside the mount, '/' between folders ("isos/debian/netinst.iso");
//                   each segment obeys the name rules (not empty, ".", "..", no NUL), and
//                   PATH neither starts nor ends with '/'. The split is at the first "=" that
//                   is followed by "http://" or "https://", so PATH may contain '=' and ':'
//                   ("year=2024/part-0.parquet"); no spaces around the "=".
//   URL1|URL2|...   (also PATH=URL1|URL2) one entry at several addresses: the first URL is
//                   the primary (it names the entry, decides its kind, is probed), the others
//                   its mirrors, each of the same kind (a directory's end in '/'; AddMirror in
//                   cli/mount_spec.h). '|' is not valid unescaped in a URL (RFC 3986: %7C).
// A line whose first non-blank character is '#' is a comment. A '#' anywhere else belongs to
// the line (a name such as "Track #1.mp3", a URL's fragment): there are no trailing comments.
// Blank lines are skipped, whitespace around a line is dropped, CRLF line ends and a UTF-8
// byte order mark are accepted. A line is a URL when it starts with "http://" or "https://"
// (any case), and PATH=URL otherwise.
//
// Folders are made by the paths that go through them. A path may not be given twice, and may
// not be both an entry and a folder ("a" and "a/b"). Entries from a URL file are probed lazily
// (probe_at_mount = false): a bad URL fails on first use, not the mount.
//
// Thread-safety: pure functions (ReadUrlFile reads the file).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/mount_spec.h"
#include "rangefs/status.h"

namespace rangefs {

// Parses the text of a URL file named `file_name` (which errors quote). `operands` are the
// mount's other entries (ParseMountSpecs): URL-file paths share their namespace, so a path
// equal to an operand's name, or inside it ("x.iso/a" when an operand is named "x.iso"), is
// an error too. Returns the entries in file order, each with probe_at_mount = false. Fails
// (kInvalidArgument) at the first bad line, "FILE:LINE: what is wrong", naming both lines (or
// the line and the operand) for a path given twice or both an entry and a folder. URLs in
// messages have their credentials redacted.
Result<std::vector<MountSpec>> ParseUrlFile(std::string_view text, std::string_view file_name,
                                            std::span<const MountSpec> operands = {});

// Reads the file at `path` and parses it (ParseUrlFile). A file that cannot be read fails
// (kInvalidArgument), naming the path and why.
Result<std::vector<MountSpec>> ReadUrlFile(const std::string& path,
                                           std::span<const MountSpec> operands = {});

}  // namespace rangefs
