#include "fuse/kernel_notifier.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace rangefs {

KernelNotifier::KernelNotifier(fuse_session* session)
    : session_(session), thread_([this] { Run(); }) {}

KernelNotifier::~KernelNotifier() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void KernelNotifier::ForgetName(fuse_ino_t parent, std::string name) {
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(parent, std::move(name));
  }
  wake_.notify_one();
}

void KernelNotifier::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    const auto [parent, name] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    const int result =
        fuse_lowlevel_notify_inval_entry(session_, parent, name.c_str(), name.size());
    // -ENOENT: the kernel had not cached the name; nothing to forget.
    if (result != 0 && result != -ENOENT) {
      spdlog::debug("{}: the kernel could not drop the cached name: {}", name,
                    std::strerror(-result));
    }
    lock.lock();
  }
}

}  // namespace rangefs
