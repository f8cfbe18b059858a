#include "rangefs/http_directory_lister.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "http/curl_handle.h"
#include "http/listing_fetch.h"
#include "http/request.h"
#include "listing/listing_page.h"
#include "rangefs/redact.h"

namespace rangefs {
namespace {

// Transient failures (a dropped connection, a 503) are tried again this many times, after
// these pauses: a listing is one request that a whole `ls` waits for.
constexpr int kRetries = 2;
constexpr std::chrono::milliseconds kFirstPause{200};

class HttpDirectoryLister final : public DirectoryLister {
 public:
  HttpDirectoryLister(const HttpOptions& options, const ListingLimitOptions& limits,
                      Metrics* metrics)
      : requests_(options), limits_(limits), metrics_(metrics) {}

  Result<Listing> List(const std::string& url) override {
    Listing listing;
    std::unordered_set<std::string> names;
    std::unordered_set<std::string> pages_seen;
    std::vector<std::string> skipped;
    std::string page_url = url;
    while (true) {
      if (!pages_seen.insert(page_url).second) {
        return Status(ErrorCode::kProtocolViolation,
                      RedactUrl(url) + ": the listing's pages lead back to " + RedactUrl(page_url));
      }
      Result<listing::ParsedPage> page = FetchAndParse(url, page_url);
      if (!page.ok()) return page.status();
      if (listing.format.empty()) listing.format = page->listing.format;
      for (ListedEntry& entry : page->listing.entries) {
        if (!names.insert(entry.name).second) {
          skipped.push_back("duplicate name " + entry.name + ": the first stays");
          continue;
        }
        if (listing.entries.size() >= limits_.max_entries) {
          return Status(ErrorCode::kLimitExceeded, RedactUrl(url) + ": more than " +
                                                       std::to_string(limits_.max_entries) +
                                                       " entries (--max-dir-entries)");
        }
        listing.entries.push_back(std::move(entry));
      }
      for (std::string& line : page->skipped) skipped.push_back(std::move(line));
      if (!page->next_page_url) break;
      if (page->listing.entries.empty()) {
        return Status(ErrorCode::kProtocolViolation,
                      RedactUrl(url) + ": an empty listing page that promises another");
      }
      page_url = std::move(*page->next_page_url);
    }
    LogSkipped(url, skipped);
    return listing;
  }

 private:
  // One page, its retries included, within --timeout: a reader of the directory gets an answer
  // within that bound whatever the server does.
  Result<listing::ParsedPage> FetchAndParse(const std::string& url, const std::string& page_url) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point deadline = Clock::now() + requests_.options().request_timeout;
    std::chrono::milliseconds pause = kFirstPause;
    for (int attempt = 0;; ++attempt) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      Result<http::FetchedPage> fetched = http::FetchListingPage(
          pool_, requests_, page_url, limits_.max_page_bytes, left, metrics_);
      if (!fetched.ok()) {
        if (attempt < kRetries && IsRetryable(fetched.status()) &&
            Clock::now() + pause < deadline) {
          spdlog::info("{}: listing failed ({}); trying again", RedactUrl(page_url),
                       fetched.status().ToString());
          std::this_thread::sleep_for(pause);
          pause *= 2;
          continue;
        }
        return fetched.status();
      }
      const listing::ListingLimits limits{.max_entries = limits_.max_entries};
      Result<listing::ParsedPage> parsed = listing::ParseListingPage(
          fetched->body, fetched->content_type, fetched->final_url, url, limits);
      if (!parsed.ok()) {
        if (parsed.status().code() == ErrorCode::kLimitExceeded) {
          return Status(ErrorCode::kLimitExceeded,
                        RedactUrl(page_url) + ": " + parsed.status().message() +
                            " (--max-dir-entries " + std::to_string(limits_.max_entries) + ")");
        }
        return Status(parsed.status().code(),
                      RedactUrl(page_url) + ": " + parsed.status().message());
      }
      return parsed;
    }
  }

  // Once per directory at warning level; its refreshes repeat them only in the debug log.
  void LogSkipped(const std::string& url, const std::vector<std::string>& skipped) {
    if (skipped.empty()) return;
    bool first_time = false;
    {
      std::lock_guard lock(mu_);
      first_time = warned_.insert(url).second;
    }
    // A hostile page may hold a million bad names: the log gets the first few and a count.
    constexpr size_t kMostLines = 10;
    const spdlog::level::level_enum level = first_time ? spdlog::level::warn : spdlog::level::debug;
    for (size_t i = 0; i < skipped.size() && i < kMostLines; ++i) {
      spdlog::log(level, "{}: skipped {}", RedactUrl(url), skipped[i]);
    }
    if (skipped.size() > kMostLines) {
      spdlog::log(level, "{}: skipped {} more entries", RedactUrl(url),
                  skipped.size() - kMostLines);
    }
  }

  http::CurlHandlePool pool_;
  const http::RequestSetup requests_;
  const ListingLimitOptions limits_;
  Metrics* const metrics_;
  std::mutex mu_;
  std::unordered_set<std::string> warned_;  // Guarded by mu_
};

}  // namespace

std::unique_ptr<DirectoryLister> NewHttpDirectoryLister(const HttpOptions& options,
                                                        const ListingLimitOptions& limits,
                                                        Metrics* metrics) {
  return std::make_unique<HttpDirectoryLister>(options, limits, metrics);
}

}  // namespace rangefs
