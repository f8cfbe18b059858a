// KernelNotifier: tells the kernel to forget names whose file has a new version, so the next
// path lookup asks rangefs and finds the new version's inode. It works from a thread of its
// own: a notification sent from inside a request can deadlock, since the kernel may hold the
// locks it needs (the directory's, during a lookup) until that request is answered.
//
// Thread-safety: ForgetName may be called from any thread. Create it after daemonizing (threads
// do not survive fork) and destroy it before the session is unmounted.
#pragma once

#include <fuse3/fuse_lowlevel.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace rangefs {

class KernelNotifier {
 public:
  explicit KernelNotifier(fuse_session* session);
  // Stops the thread; names still queued are dropped (their entries time out by themselves).
  ~KernelNotifier();
  KernelNotifier(const KernelNotifier&) = delete;
  KernelNotifier& operator=(const KernelNotifier&) = delete;

  void ForgetName(fuse_ino_t parent, std::string name);

 private:
  void Run();

  fuse_session* const session_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<fuse_ino_t, std::string>> queue_;  // Guarded by mu_
  bool stopping_ = false;                                 // Guarded by mu_
  std::thread thread_;  // last: starts once everything it uses exists
};

}  // namespace rangefs
