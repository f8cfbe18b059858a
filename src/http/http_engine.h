// HttpEngine: one thread driving a libcurl multi handle. Transfers are configured easy handles
// submitted from any thread; the engine runs them concurrently over the multi handle's shared
// pool of keep-alive connections (and multiplexes them over one HTTP/2 connection when the
// server offers it), and reports each completion on its own thread.
//
// Demand transfers start at once. Prefetch transfers wait in a queue while `max_prefetch`
// of them are running, so readahead can never crowd out a reader that is waiting; and a queued
// prefetch a reader turns out to wait for is started at once too (Expedite).
//
// Thread-safety: Submit is thread-safe. Transfer callbacks (curl's and OnComplete) run on the
// engine thread and must not block.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "rangefs/byte_range.h"

namespace rangefs::http {

class Transfer {
 public:
  virtual ~Transfer() = default;
  // A configured easy handle; the engine adds it to the multi handle and removes it when done.
  virtual CURL* handle() const = 0;
  // The transfer finished (CURLE_OK or the error), or the engine is shutting down
  // (CURLE_ABORTED_BY_CALLBACK). Called exactly once.
  virtual void OnComplete(CURLcode result) = 0;
  // Whether it fetches any byte of `range` of the file the user named `url`
  // (RemoteFileInfo::url), so that a reader waiting for those bytes can have it started.
  virtual bool Fetches(const std::string& url, const ByteRange& range) const {
    (void)url;
    (void)range;
    return false;
  }
};

class HttpEngine {
 public:
  // REQUIRES: max_prefetch > 0.
  explicit HttpEngine(size_t max_prefetch);
  // Stops the thread; transfers still queued or running complete with
  // CURLE_ABORTED_BY_CALLBACK.
  ~HttpEngine();
  HttpEngine(const HttpEngine&) = delete;
  HttpEngine& operator=(const HttpEngine&) = delete;

  bool ok() const { return multi_ != nullptr; }
  void Submit(std::unique_ptr<Transfer> transfer, bool prefetch);
  // Starts every queued prefetch that fetches bytes of `range` of `url` now, as a demand
  // transfer (outside the prefetch limit). Running ones are left as they are.
  void Expedite(const std::string& url, const ByteRange& range);

 private:
  void Run();
  void StartQueued();
  void FinishDone();
  bool HasStartable();

  CURLM* multi_ = nullptr;
  const size_t max_prefetch_;

  std::mutex mu_;
  std::deque<std::unique_ptr<Transfer>> demand_queue_;    // Guarded by mu_
  std::deque<std::unique_ptr<Transfer>> prefetch_queue_;  // Guarded by mu_
  bool stopping_ = false;                                 // Guarded by mu_

  // Engine thread only.
  struct Running {
    std::unique_ptr<Transfer> transfer;
    bool prefetch = false;
  };
  std::unordered_map<CURL*, Running> running_;
  size_t running_prefetch_ = 0;

  // Started by the first Submit, not by the constructor: main() probes, then daemonizes (fork),
  // and only the thread that calls fork survives it.
  std::thread thread_;  // Guarded by mu_ until started
};

}  // namespace rangefs::http
