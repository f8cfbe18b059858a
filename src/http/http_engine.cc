#include "http/http_engine.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace rangefs::http {
namespace {

// How long the engine sleeps in curl_multi_poll when nothing happens; a Submit wakes it at once,
// so this only bounds how late curl's own timers can be noticed if it asked for none.
constexpr int kIdlePollMilliseconds = 1000;
// Idle keep-alive connections the multi handle keeps for reuse (all hosts).
constexpr long kMaxCachedConnections = 64;

}  // namespace

HttpEngine::HttpEngine(size_t max_prefetch)
    : multi_(curl_multi_init()), max_prefetch_(max_prefetch) {
  if (!multi_) return;
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, kMaxCachedConnections);
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
}

HttpEngine::~HttpEngine() {
  if (!multi_) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  if (thread_.joinable()) thread_.join();
  curl_multi_cleanup(multi_);
}

void HttpEngine::Submit(std::unique_ptr<Transfer> transfer, bool prefetch) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && multi_ && !thread_.joinable()) thread_ = std::thread([this] { Run(); });
    if (!stopping_ && multi_) {
      (prefetch ? prefetch_queue_ : demand_queue_).push_back(std::move(transfer));
    }
  }
  if (transfer) {  // not queued: the engine is gone or going
    transfer->OnComplete(CURLE_ABORTED_BY_CALLBACK);
    return;
  }
  curl_multi_wakeup(multi_);
}

void HttpEngine::Expedite(const std::string& url, const ByteRange& range) {
  bool moved = false;
  {
    std::lock_guard lock(mu_);
    for (auto it = prefetch_queue_.begin(); it != prefetch_queue_.end();) {
      if (!(*it)->Fetches(url, range)) {
        ++it;
        continue;
      }
      demand_queue_.push_back(std::move(*it));
      it = prefetch_queue_.erase(it);
      moved = true;
    }
  }
  if (moved) curl_multi_wakeup(multi_);
}

void HttpEngine::StartQueued() {
  std::vector<Running> starting;
  {
    std::lock_guard lock(mu_);
    while (!demand_queue_.empty()) {
      starting.push_back({std::move(demand_queue_.front()), false});
      demand_queue_.pop_front();
    }
    while (!prefetch_queue_.empty() && running_prefetch_ < max_prefetch_) {
      starting.push_back({std::move(prefetch_queue_.front()), true});
      prefetch_queue_.pop_front();
      ++running_prefetch_;
    }
  }
  for (Running& run : starting) {
    CURL* handle = run.transfer->handle();
    if (const CURLMcode rc = curl_multi_add_handle(multi_, handle); rc != CURLM_OK) {
      spdlog::error("curl_multi_add_handle: {}", curl_multi_strerror(rc));
      if (run.prefetch) --running_prefetch_;
      run.transfer->OnComplete(CURLE_FAILED_INIT);
      continue;
    }
    running_.emplace(handle, std::move(run));
  }
}

bool HttpEngine::HasStartable() {
  std::lock_guard lock(mu_);
  return !demand_queue_.empty() || (!prefetch_queue_.empty() && running_prefetch_ < max_prefetch_);
}

void HttpEngine::FinishDone() {
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* handle = message->easy_handle;
    const CURLcode result = message->data.result;
    curl_multi_remove_handle(multi_, handle);
    auto found = running_.find(handle);
    if (found == running_.end()) continue;
    Running done = std::move(found->second);
    running_.erase(found);
    if (done.prefetch) --running_prefetch_;
    done.transfer->OnComplete(result);
  }
}

void HttpEngine::Run() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    StartQueued();
    int still_running = 0;
    curl_multi_perform(multi_, &still_running);
    FinishDone();
    // Finished transfers free prefetch slots: start what waits for them before sleeping, or
    // readers waiting on queued prefetches would sleep until the poll times out.
    if (HasStartable()) continue;
    curl_multi_poll(multi_, nullptr, 0, kIdlePollMilliseconds, nullptr);
  }
  // Shutting down: everything not finished completes as aborted.
  for (auto& [handle, running] : running_) {
    curl_multi_remove_handle(multi_, handle);
    running.transfer->OnComplete(CURLE_ABORTED_BY_CALLBACK);
  }
  running_.clear();
  std::deque<std::unique_ptr<Transfer>> leftovers;
  {
    std::lock_guard lock(mu_);
    for (auto* queue : {&demand_queue_, &prefetch_queue_}) {
      for (auto& transfer : *queue) leftovers.push_back(std::move(transfer));
      queue->clear();
    }
  }
  for (auto& transfer : leftovers) transfer->OnComplete(CURLE_ABORTED_BY_CALLBACK);
}

}  // namespace rangefs::http
