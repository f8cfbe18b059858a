// Owning wrappers for libcurl handles and a pool that keeps easy handles (and with them their
// open keep-alive connections) alive between requests.
//
// Thread-safety: CurlHandlePool is thread-safe. A leased handle belongs to the leasing thread
// until the lease ends (libcurl: one handle, one thread at a time).
#pragma once

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <vector>

namespace rangefs::http {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Appends a header line ("Name: value") to a list; returns false when out of memory.
bool AppendHeader(CurlSlist& list, const std::string& line);

class CurlHandlePool {
 public:
  class Lease {
   public:
    Lease(CurlHandlePool& pool, CurlEasy handle) : pool_(&pool), handle_(std::move(handle)) {}
    Lease(Lease&& other) noexcept = default;  // the moved-from lease holds no handle
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_->Return(std::move(handle_)); }
    // Null only when libcurl could not allocate a handle.
    CURL* get() const { return handle_.get(); }

   private:
    CurlHandlePool* pool_;
    CurlEasy handle_;
  };

  // A handle with all options reset (curl_easy_reset keeps its connections and caches).
  Lease Acquire();

 private:
  void Return(CurlEasy handle);

  std::mutex mu_;
  std::vector<CurlEasy> idle_;  // Guarded by mu_
};

}  // namespace rangefs::http
