#include "fuse/fuse_session.h"

#include <chrono>
#include <csignal>
#include <stop_token>
#include <thread>

namespace rangefs {

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
  if (fuse_session_mount(session->session_.get(), mountpoint.c_str()) != 0) return nullptr;
  session->mounted_ = true;
  return session;
}

FuseSession::~FuseSession() { Unmount(); }

bool FuseSession::Daemonize(bool foreground) { return fuse_daemonize(foreground ? 1 : 0) == 0; }

int FuseSession::Serve(const std::function<void()>& on_exit) {
  const std::unique_ptr<fuse_loop_config, LoopConfigDeleter> loop_config(fuse_loop_cfg_create());
  std::jthread stop_watch;
  if (on_exit) {
    stop_watch = std::jthread([&on_exit, se = session_.get()](const std::stop_token& done) {
      while (!done.stop_requested()) {
        if (fuse_session_exited(se)) return on_exit();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  const int loop_result = fuse_session_loop_mt(session_.get(), loop_config.get());
  stop_watch.request_stop();
  // libfuse's signal handlers record the signal as the session's result: being asked to stop is
  // a clean exit.
  const bool stopped_by_signal =
      loop_result == SIGINT || loop_result == SIGTERM || loop_result == SIGHUP;
  return loop_result == 0 || stopped_by_signal ? 0 : 1;
}

void FuseSession::Unmount() {
  if (mounted_) fuse_session_unmount(session_.get());
  mounted_ = false;
  if (signal_handlers_set_) fuse_remove_signal_handlers(session_.get());
  signal_handlers_set_ = false;
}

}  // namespace rangefs
