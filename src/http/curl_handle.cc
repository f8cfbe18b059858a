#include "http/curl_handle.h"

namespace rangefs::http {
namespace {

// Enough idle handles for the FUSE loop's worker threads; beyond that a burst's extra
// connections are closed rather than kept open forever.
constexpr size_t kMaxIdleHandles = 16;

}  // namespace

bool AppendHeader(CurlSlist& list, const std::string& line) {
  curl_slist* appended = curl_slist_append(list.get(), line.c_str());
  if (!appended) return false;
  (void)list.release();  // curl_slist_append returned the same list, now one longer
  list.reset(appended);
  return true;
}

CurlHandlePool::Lease CurlHandlePool::Acquire() {
  CurlEasy handle;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      handle = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (handle) {
    curl_easy_reset(handle.get());
  } else {
    handle.reset(curl_easy_init());
  }
  return Lease(*this, std::move(handle));
}

void CurlHandlePool::Return(CurlEasy handle) {
  if (!handle) return;
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(handle));
}

}  // namespace rangefs::http
