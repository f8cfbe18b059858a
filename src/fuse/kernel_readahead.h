// The kernel's readahead for a FUSE mount starts at 128 KiB and the FUSE handshake can only
// lower it, so a filesystem cannot ask for larger reads there. Root (or whoever may write
// /sys/class/bdi) can raise it afterwards, which turns a sequential reader's 128 KiB requests
// into 1 MiB ones: eight times fewer trips through the kernel and our read path.
#pragma once

#include <string>

namespace rangefs {

// Sets read_ahead_kb of the mount at `mountpoint` (found through /proc/self/mountinfo, never
// by touching the mount itself, which is not served yet). Best effort: returns false and
// leaves the default when the mount is not found or the file is not writable.
bool RaiseKernelReadahead(const std::string& mountpoint, unsigned kib);

}  // namespace rangefs
