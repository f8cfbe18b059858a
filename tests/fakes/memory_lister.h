// MemoryLister: a DirectoryLister over listings the test sets, counting calls per URL. A test
// can hold every List call until it lets them go, to see callers share one listing.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "rangefs/directory_listing.h"

namespace rangefs::fakes {

class MemoryLister final : public DirectoryLister {
 public:
  // What List(url) answers from now on.
  void Set(const std::string& url, Result<Listing> answer) {
    std::lock_guard lock(mu_);
    answers_.insert_or_assign(url, std::move(answer));
  }
  // Shorthand: a listing of these entries.
  void SetEntries(const std::string& url, std::vector<ListedEntry> entries) {
    Set(url, Listing{.entries = std::move(entries), .format = "memory"});
  }

  size_t calls(const std::string& url) const {
    std::lock_guard lock(mu_);
    const auto found = calls_.find(url);
    return found == calls_.end() ? 0 : found->second;
  }
  size_t total_calls() const {
    std::lock_guard lock(mu_);
    size_t total = 0;
    for (const auto& [url, count] : calls_) total += count;
    return total;
  }

  // While held, List calls wait (counted as started) until Release.
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    released_.notify_all();
  }
  size_t started() const {
    std::lock_guard lock(mu_);
    return started_;
  }

  Result<Listing> List(const std::string& url) override {
    std::unique_lock lock(mu_);
    ++calls_[url];
    ++started_;
    released_.wait(lock, [this] { return !held_; });
    const auto found = answers_.find(url);
    if (found == answers_.end()) return Status(ErrorCode::kNotFound, "HTTP 404 for " + url);
    return found->second;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable released_;
  std::map<std::string, Result<Listing>> answers_;  // Guarded by mu_
  std::map<std::string, size_t> calls_;             // Guarded by mu_
  size_t started_ = 0;                              // Guarded by mu_
  bool held_ = false;                               // Guarded by mu_
};

// A listed file: `size` when the listing states it exactly.
inline ListedEntry ListedFile(const std::string& directory_url, const std::string& name,
                              std::optional<uint64_t> size = std::nullopt,
                              std::optional<std::time_t> mtime = std::nullopt) {
  return ListedEntry{.name = name,
                     .url = directory_url + name,
                     .is_directory = false,
                     .size = size,
                     .mtime = mtime};
}

inline ListedEntry ListedDirectory(const std::string& directory_url, const std::string& name) {
  return ListedEntry{.name = name,
                     .url = directory_url + name + "/",
                     .is_directory = true,
                     .size = std::nullopt,
                     .mtime = std::nullopt};
}

}  // namespace rangefs::fakes
