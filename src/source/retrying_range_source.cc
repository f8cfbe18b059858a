#include "rangefs/retrying_range_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rangefs/redact.h"
#include "source/retrying_fetch.h"

namespace rangefs {

using std::chrono::milliseconds;

RetryingRangeSource::RetryingRangeSource(RangeSource& inner, Scheduler& scheduler,
                                         const RetryConfig& config, Metrics* metrics,
                                         std::stop_token stop)
    : ForwardingRangeSource(inner),
      scheduler_(scheduler),
      policy_(config),
      stop_(std::move(stop)),
      metrics_(metrics),
      random_(std::random_device{}()) {}

void RetryingRangeSource::StartFetch(const RemoteFileInfo& file, const ByteRange& range,
                                     FetchPriority priority, std::shared_ptr<RangeSink> sink) {
  std::make_shared<Fetch>(*this, file, range, priority, std::move(sink))->StartAttempt();
}

void RetryingRangeSource::StartMultiFetch(const RemoteFileInfo& file,
                                          const std::vector<ByteRange>& ranges,
                                          FetchPriority priority,
                                          std::vector<std::shared_ptr<RangeSink>> sinks) {
  // One request for all the ranges first; a range whose part fails is retried on its own, from
  // its first missing byte.
  const RemoteFileInfo at = CurrentAddress(file);
  std::vector<std::shared_ptr<RangeSink>> attempts;
  attempts.reserve(ranges.size());
  for (size_t i = 0; i < ranges.size() && i < sinks.size(); ++i) {
    attempts.push_back(
        std::make_shared<Fetch>(*this, file, ranges[i], priority, std::move(sinks[i]))
            ->FirstAttemptSink(at.final_url));
  }
  inner().StartMultiFetch(at, ranges, priority, std::move(attempts));
}

Result<RemoteFileInfo> RetryingRangeSource::Reprobe(const std::string& url) {
  const Scheduler::Clock::time_point deadline = scheduler_.Now() + policy_.config().deadline;
  for (int retry = 1;; ++retry) {
    const auto budget = std::chrono::duration_cast<milliseconds>(deadline - scheduler_.Now());
    Result<RemoteFileInfo> probed = inner().ProbeWithin(url, std::max(budget, milliseconds(1)));
    if (probed.ok()) return probed;
    const auto time_left = std::chrono::duration_cast<milliseconds>(deadline - scheduler_.Now());
    const std::optional<milliseconds> delay =
        policy_.DelayBeforeRetry(retry, probed.status(), time_left, Random01());
    if (!delay) return probed;  // the caller says what becomes of the version
    if (metrics_) metrics_->CountRetry(url);
    spdlog::info("{}: probe retry {} in {} ms: {}", RedactUrl(url), retry, delay->count(),
                 probed.status().ToString());
    WaitOnScheduler(*delay);
    if (stop_.stop_requested()) return probed;
  }
}

void RetryingRangeSource::WaitOnScheduler(milliseconds delay) {
  // A scheduler that stops drops the task, and the promise with it: the wait ends too (broken
  // promise), and the next try fails fast against a source that is going away.
  auto woken = std::make_shared<std::promise<void>>();
  std::future<void> wait = woken->get_future();
  scheduler_.RunAfter(delay, [woken] { woken->set_value(); });
  woken.reset();
  // Polled for a stop: only while a lookup waits out a backoff, and a signal must end that
  // within its 2 s.
  while (wait.wait_for(milliseconds(100)) != std::future_status::ready) {
    if (stop_.stop_requested()) return;
  }
}

double RetryingRangeSource::Random01() {
  std::lock_guard lock(mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(random_);
}

RemoteFileInfo RetryingRangeSource::CurrentAddress(const RemoteFileInfo& file) {
  std::lock_guard lock(mu_);
  const std::string* address = &file.final_url;
  if (const auto target = redirected_.find(file.url); target != redirected_.end()) {
    address = &target->second;
  } else if (const auto resolved = addresses_.find(file.url); resolved != addresses_.end()) {
    address = &resolved->second;
  }
  if (*address == file.final_url) return file;
  RemoteFileInfo moved = file;
  moved.final_url = *address;
  return moved;
}

bool RetryingRangeSource::RememberRedirect(const std::string& url, const std::string& target) {
  std::lock_guard lock(mu_);
  const auto [found, inserted] = redirected_.try_emplace(url, target);
  if (!inserted) found->second = target;
  return inserted;
}

bool RetryingRangeSource::ForgetRedirect(const std::string& url, const std::string& address) {
  std::lock_guard lock(mu_);
  const auto found = redirected_.find(url);
  if (found == redirected_.end() || found->second != address) return false;
  redirected_.erase(found);
  return true;
}

void RetryingRangeSource::RememberAddress(const std::string& url, const std::string& final_url) {
  std::lock_guard lock(mu_);
  addresses_[url] = final_url;
}

}  // namespace rangefs
