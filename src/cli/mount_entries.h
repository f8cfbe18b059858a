// From what the command line names to what the mount shows: the operands are probed (files) or
// listed (directories) before mounting, all at once, so that a bad URL refuses the mount and
// start-up costs one round trip, not one per URL; the URL file's entries are added unprobed.
// A file operand whose URL turns out to be a directory (a redirect to a path ending in '/',
// as servers answer "https://host/pub") is listed as one.
//
// Thread-safety: functions of one thread (PrepareOperands waits for the probes it starts).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "cli/mount_spec.h"
#include "rangefs/directory_listing.h"
#include "rangefs/filesystem.h"
#include "rangefs/range_source.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs {

// One entry as the mount will show it.
struct PreparedEntry {
  MountSpec spec;                      // kind as found: a file may have become a directory
  std::optional<RemoteFileInfo> info;  // a probed file
  std::optional<Listing> listing;      // a listed directory
};

// Probes or lists, concurrently, every spec with probe_at_mount; the others pass unprobed.
// Prints one line to stderr per URL that failed, and returns nullopt if any did.
std::optional<std::vector<PreparedEntry>> PrepareEntries(RangeSource& source,
                                                         DirectoryLister& lister,
                                                         std::vector<MountSpec> specs,
                                                         uint64_t max_full_fetch);

// Adds the entries to `filesystem`: a mount of one directory operand and nothing else shows
// that directory as its root; anything else shows each entry under its name.
Status AddEntries(Filesystem& filesystem, std::vector<PreparedEntry> entries);

}  // namespace rangefs
