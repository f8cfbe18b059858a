// The FUSE adapter: mounts a Filesystem with libfuse3's low-level API and serves kernel
// requests on a multithreaded session loop. Its callbacks are the only code that speaks errno
// (through ErrnoFor, errno_map.h): each unpacks the request, calls Filesystem, and sends
// exactly one reply. The session itself (mount, daemon, signals, loop, unmount) is
// FuseSession's (fuse_session.h), which knows nothing of Filesystem.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "rangefs/filesystem.h"

namespace rangefs {

struct FuseConfig {
  std::string mountpoint;  // absolute: the daemon changes its working directory to "/"
  // The mount's source in /proc/mounts (fsname): mount -a compares it with the fstab line's.
  std::string source = "rangefs";
  std::vector<std::string> mount_options;  // user's -o options, passed through
  bool foreground = false;
  bool fuse_debug = false;  // libfuse prints every kernel request
  // How long the kernel may trust names and attributes without asking again.
  double attribute_timeout_seconds = 60;
};

// Mounts `filesystem`, daemonizes unless config.foreground, calls `on_mounted` (in the
// daemon, after daemonizing), and serves until unmounted (fusermount3 -u) or
// SIGINT/SIGTERM/SIGHUP, then unmounts. Returns the process exit code. Errors before the mount
// is up go to stderr. `on_stopping` (if set) is called once, as soon as the session ends and
// while requests may still be running, after the filesystem's readers were told to give up: for
// what else must give up then (requests blocked on a server).
int ServeFuse(Filesystem& filesystem, const FuseConfig& config,
              const std::function<void()>& on_mounted,
              const std::function<void()>& on_stopping = nullptr);

}  // namespace rangefs
