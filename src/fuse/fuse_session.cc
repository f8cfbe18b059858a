#include "fuse/fuse_session.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <thread>

namespace rangefs {
namespace {

// The signals libfuse's handlers end the session on (fuse_set_signal_handlers).
constexpr std::array<int, 3> kExitSignals = {SIGINT, SIGTERM, SIGHUP};

// What the relay calls: libfuse's handler for each of kExitSignals, and where it says a signal
// came. Written only while the relay is not installed; a handler reads them.
std::array<void (*)(int), kExitSignals.size()> fuse_handlers{};
std::atomic<int> relay_wake_fd{-1};
static_assert(std::atomic<int>::is_always_lock_free, "read in a signal handler");

void WakeFd(int fd) {
  const uint64_t one = 1;
  // Only full when 2^64 - 2 wakeups are pending: a wakeup is pending anyway.
  [[maybe_unused]] const ssize_t written = ::write(fd, &one, sizeof one);
}

// Async-signal-safe: calls a function pointer, loads an atomic, writes an eventfd.
void RelayExitSignal(int signal_number) {
  const int saved_errno = errno;
  for (size_t i = 0; i < kExitSignals.size(); ++i) {
    if (kExitSignals[i] == signal_number && fuse_handlers[i]) fuse_handlers[i](signal_number);
  }
  if (const int fd = relay_wake_fd.load(); fd >= 0) WakeFd(fd);
  errno = saved_errno;
}

}  // namespace

std::unique_ptr<FuseSession> FuseSession::Mount(const std::vector<std::string>& args,
                                                const fuse_lowlevel_ops& operations, void* userdata,
                                                const std::string& mountpoint) {
  std::unique_ptr<FuseSession> session(new FuseSession());
  for (const std::string& arg : args) {
    if (fuse_opt_add_arg(&session->args_, arg.c_str()) != 0) return nullptr;
  }
  session->session_.reset(
      fuse_session_new(&session->args_, &operations, sizeof(operations), userdata));
  if (!session->session_) return nullptr;
  if (fuse_set_signal_handlers(session->session_.get()) != 0) return nullptr;
  session->signal_handlers_set_ = true;
  if (!session->RelaySignals()) return nullptr;
  if (fuse_session_mount(session->session_.get(), mountpoint.c_str()) != 0) return nullptr;
  session->mounted_ = true;
  return session;
}

FuseSession::~FuseSession() {
  Unmount();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool FuseSession::Daemonize(bool foreground) { return fuse_daemonize(foreground ? 1 : 0) == 0; }

bool FuseSession::RelaySignals() {
  // Made before the fork of Daemonize; the daemon inherits it.
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return false;
  relay_wake_fd.store(wake_fd_);
  for (size_t i = 0; i < kExitSignals.size(); ++i) {
    struct sigaction& fuse_action = fuse_actions_[i];
    if (::sigaction(kExitSignals[i], nullptr, &fuse_action) != 0) return false;
    // libfuse leaves a handler the program had set before it alone: then there is nothing of
    // libfuse's to relay.
    if ((fuse_action.sa_flags & SA_SIGINFO) != 0 || fuse_action.sa_handler == SIG_DFL ||
        fuse_action.sa_handler == SIG_IGN) {
      continue;
    }
    fuse_handlers[i] = fuse_action.sa_handler;
    struct sigaction relay = fuse_action;  // the same mask and flags (no SA_RESTART)
    relay.sa_handler = &RelayExitSignal;
    if (::sigaction(kExitSignals[i], &relay, nullptr) != 0) return false;
  }
  signals_relayed_ = true;
  return true;
}

void FuseSession::RestoreSignals() {
  if (!signals_relayed_) return;
  signals_relayed_ = false;
  for (size_t i = 0; i < kExitSignals.size(); ++i) {
    if (!fuse_handlers[i]) continue;
    ::sigaction(kExitSignals[i], &fuse_actions_[i], nullptr);
    fuse_handlers[i] = nullptr;
  }
  relay_wake_fd.store(-1);
}

void FuseSession::Wake() const {
  if (wake_fd_ >= 0) WakeFd(wake_fd_);
}

int FuseSession::Serve(const std::function<void()>& on_exit) {
  const std::unique_ptr<fuse_loop_config, LoopConfigDeleter> loop_config(fuse_loop_cfg_create());
  std::once_flag exit_reported;
  const auto report_exit = [&] {
    if (on_exit) std::call_once(exit_reported, on_exit);
  };
  std::jthread stop_watch;
  if (on_exit && wake_fd_ >= 0) {
    // Sleeps until the relay (or the end of the loop) writes the eventfd: no polling.
    stop_watch =
        std::jthread([this, &report_exit, se = session_.get()](const std::stop_token& done) {
          while (!done.stop_requested()) {
            if (fuse_session_exited(se)) return report_exit();
            pollfd wake{.fd = wake_fd_, .events = POLLIN, .revents = 0};
            if (::poll(&wake, 1, -1) < 0 && errno != EINTR) return;  // reported after the loop
            uint64_t count = 0;
            [[maybe_unused]] const ssize_t drained = ::read(wake_fd_, &count, sizeof count);
          }
        });
  }
  const int loop_result = fuse_session_loop_mt(session_.get(), loop_config.get());
  if (stop_watch.joinable()) {
    stop_watch.request_stop();
    Wake();
    stop_watch.join();
  }
  // Unmounted (fusermount3 -u), or the watcher could not wait: what must stop hears it now.
  report_exit();
  // libfuse's signal handlers record the signal as the session's result: being asked to stop is
  // a clean exit.
  const bool stopped_by_signal =
      loop_result == SIGINT || loop_result == SIGTERM || loop_result == SIGHUP;
  return loop_result == 0 || stopped_by_signal ? 0 : 1;
}

void FuseSession::Unmount() {
  if (mounted_) fuse_session_unmount(session_.get());
  mounted_ = false;
  RestoreSignals();
  if (signal_handlers_set_) fuse_remove_signal_handlers(session_.get());
  signal_handlers_set_ = false;
}

}  // namespace rangefs
