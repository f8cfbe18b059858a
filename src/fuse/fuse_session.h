// FuseSession: one libfuse3 low-level session, from the mount to the unmount, for any
// filesystem: it knows an operations table and the user data its callbacks get, nothing of
// what they serve. Used by rangefs (fuse_adapter.cc) and by the benchmark's memory-backed
// filesystem (scripts/bench/memfs), so that the ceiling is served exactly as rangefs is.
//
// The steps are the caller's to order, since what happens between them differs: Mount (the
// session, SIGINT/SIGTERM/SIGHUP handlers, the mount), then whatever must happen before the
// fork (raising the kernel readahead), Daemonize, then whatever must happen in the daemon
// (threads, logging), Serve, Unmount.
//
// Thread-safety: one thread drives it (the one that mounted it); the callbacks run on the
// loop's worker threads. At most one session of a process has its signal handlers installed at
// a time. Ownership: the operations table and the user data must outlive it.
#pragma once

#include <fuse3/fuse_lowlevel.h>

#include <array>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fuse/fuse_owners.h"

namespace rangefs {

class FuseSession {
 public:
  // Builds a session from `args` (as a command line: the program name first, then options
  // such as "-o", "ro,fsname=x" or "-d"), installs libfuse's handlers for SIGINT, SIGTERM and
  // SIGHUP (which end the session), and mounts it at `mountpoint`. nullptr if any step fails;
  // libfuse has printed why (an unknown -o option, a missing mountpoint) and whatever was
  // done is undone.
  static std::unique_ptr<FuseSession> Mount(const std::vector<std::string>& args,
                                            const fuse_lowlevel_ops& operations, void* userdata,
                                            const std::string& mountpoint);
  // Unmounts, if Unmount has not.
  ~FuseSession();
  FuseSession(const FuseSession&) = delete;
  FuseSession& operator=(const FuseSession&) = delete;

  // Forks into the background unless `foreground` (fuse_daemonize: the parent exits once the
  // child is ready; stdio goes to /dev/null; the working directory becomes "/"). Only the
  // calling thread survives the fork, so threads start after this. False if it failed.
  bool Daemonize(bool foreground);

  // Serves kernel requests on libfuse's multithreaded loop until the filesystem is unmounted
  // (fusermount3 -u) or a signal ends the session; returns the process's exit code: 0 for
  // either, 1 if the loop failed. The loop ends only once every worker has answered its
  // request, so `on_exit` (if set) is called, once: on a thread of its own as soon as a signal
  // has ended the session, while workers may still be busy (to make requests that wait give
  // up), or else once the loop has ended. That thread sleeps until a signal comes: an idle
  // mount wakes nobody.
  int Serve(const std::function<void()>& on_exit = nullptr);

  // Unmounts and removes the signal handlers. Idempotent.
  void Unmount();

  // For what talks to the kernel outside requests (KernelNotifier). Valid until destruction.
  fuse_session* get() const { return session_.get(); }

 private:
  FuseSession() = default;
  // Puts a relay in front of libfuse's handlers for SIGINT, SIGTERM and SIGHUP: it calls
  // libfuse's handler (which ends the session), then wakes Serve's watcher through wake_fd_.
  bool RelaySignals();
  // Puts libfuse's handlers back, so that fuse_remove_signal_handlers recognises them.
  void RestoreSignals();
  // Makes the watcher look at the session again.
  void Wake() const;

  fuse_args args_ = FUSE_ARGS_INIT(0, nullptr);
  // Frees args_'s strings, after the session they were parsed into is gone.
  const std::unique_ptr<fuse_args, FuseArgsDeleter> args_owner_{&args_};
  std::unique_ptr<fuse_session, SessionDeleter> session_;
  bool signal_handlers_set_ = false;
  bool mounted_ = false;
  // An eventfd the relay writes when a signal comes (and Serve, to end its watcher).
  int wake_fd_ = -1;
  bool signals_relayed_ = false;
  std::array<struct sigaction, 3> fuse_actions_{};  // libfuse's, while relayed
};

}  // namespace rangefs
