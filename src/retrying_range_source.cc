#include "rangefs/retrying_range_source.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "rangefs/redact.h"

namespace rangefs {

using std::chrono::milliseconds;

// One fetch across its attempts. Attempts are numbered; callbacks of an attempt that is no
// longer current (superseded, or after the fetch ended) are refused or ignored.
class RetryingRangeSource::Fetch final : public std::enable_shared_from_this<Fetch> {
 public:
  Fetch(RetryingRangeSource& owner, RemoteFileInfo file, const ByteRange& range,
        FetchPriority priority, std::shared_ptr<RangeSink> sink)
      : owner_(owner),
        file_(std::move(file)),
        range_(range),
        priority_(priority),
        sink_(std::move(sink)),
        deadline_(owner.scheduler_.Now() + owner.policy_.config().deadline) {}

  void StartAttempt();
  // The sink for the current attempt: for a first attempt that is part of a multi-range
  // request made by the caller.
  std::shared_ptr<RangeSink> FirstAttemptSink();
  const ByteRange& range() const { return range_; }

 private:
  // Forwards one attempt's callbacks to its fetch.
  class AttemptSink final : public RangeSink {
   public:
    AttemptSink(std::shared_ptr<Fetch> fetch, uint64_t attempt)
        : fetch_(std::move(fetch)), attempt_(attempt) {}
    bool OnData(std::span<const std::byte> data) override {
      return fetch_->OnAttemptData(attempt_, data);
    }
    void OnDone(const Status& status) override { fetch_->OnAttemptDone(attempt_, status); }

   private:
    const std::shared_ptr<Fetch> fetch_;
    const uint64_t attempt_;
  };

  bool OnAttemptData(uint64_t attempt, std::span<const std::byte> data);
  void OnAttemptDone(uint64_t attempt, const Status& status);
  void OnDeadline();
  void Reresolve();
  // Ends the fetch with `status` unless it has ended. REQUIRES: mu_ held via `lock`.
  void Finish(std::unique_lock<std::mutex>& lock, const Status& status);

  RetryingRangeSource& owner_;
  const RemoteFileInfo file_;
  const ByteRange range_;
  const FetchPriority priority_;
  const std::shared_ptr<RangeSink> sink_;
  const Scheduler::Clock::time_point deadline_;

  std::mutex mu_;
  uint64_t attempt_ = 0;         // the current attempt; Guarded by mu_
  uint64_t delivered_ = 0;       // bytes of range_ the sink has; Guarded by mu_
  int retries_ = 0;              // Guarded by mu_
  bool reresolved_ = false;      // Guarded by mu_
  bool deadline_armed_ = false;  // Guarded by mu_
  bool finished_ = false;        // Guarded by mu_
};

std::shared_ptr<RangeSink> RetryingRangeSource::Fetch::FirstAttemptSink() {
  return std::make_shared<AttemptSink>(shared_from_this(), 0);
}

void RetryingRangeSource::Fetch::StartAttempt() {
  uint64_t attempt = 0;
  ByteRange rest{};
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    attempt = attempt_;
    rest = ByteRange{range_.first + delivered_, range_.last};
  }
  owner_.inner().StartFetch(owner_.CurrentAddress(file_), rest, priority_,
                            std::make_shared<AttemptSink>(shared_from_this(), attempt));
}

bool RetryingRangeSource::Fetch::OnAttemptData(uint64_t attempt, std::span<const std::byte> data) {
  // Held while the sink takes the bytes, so that a deadline cannot end the fetch in between.
  std::lock_guard lock(mu_);
  if (finished_ || attempt != attempt_) return false;
  if (!sink_->OnData(data)) return false;
  delivered_ += data.size();
  return true;
}

void RetryingRangeSource::Fetch::Finish(std::unique_lock<std::mutex>& lock, const Status& status) {
  if (finished_) return;
  finished_ = true;
  lock.unlock();
  sink_->OnDone(status);
}

void RetryingRangeSource::Fetch::OnAttemptDone(uint64_t attempt, const Status& status) {
  std::unique_lock lock(mu_);
  if (finished_ || attempt != attempt_) return;
  if (status.ok()) return Finish(lock, status);

  if (status.code() == ErrorCode::kUrlExpired && !reresolved_) {
    reresolved_ = true;
    ++attempt_;
    lock.unlock();
    // A probe blocks for a round trip: not on the source's thread, which runs every transfer.
    owner_.scheduler_.RunAfter(milliseconds(0), [self = shared_from_this()] { self->Reresolve(); });
    return;
  }

  const auto now = owner_.scheduler_.Now();
  const auto time_left = std::chrono::duration_cast<milliseconds>(deadline_ - now);
  const std::optional<milliseconds> delay =
      owner_.policy_.DelayBeforeRetry(retries_ + 1, status, time_left, owner_.Random01());
  if (!delay) {
    if (retries_ > 0) {
      spdlog::warn("{} bytes={}-{}: giving up after {} retries: {}", RedactUrl(file_.url),
                   range_.first, range_.last, retries_, status.ToString());
    }
    return Finish(lock, status);
  }
  ++retries_;
  ++attempt_;
  if (owner_.metrics_) owner_.metrics_->CountRetry(file_.url);
  const bool arm_deadline = !deadline_armed_;
  deadline_armed_ = true;
  spdlog::info("{} bytes={}-{}: retry {} in {} ms from byte {}: {}", RedactUrl(file_.url),
               range_.first, range_.last, retries_, delay->count(), range_.first + delivered_,
               status.ToString());
  lock.unlock();
  const std::shared_ptr<Fetch> self = shared_from_this();
  if (arm_deadline) {
    // Only failing fetches get a timer: a first attempt is bounded by the request timeout.
    owner_.scheduler_.RunAfter(std::max(time_left, milliseconds(0)),
                               [weak = std::weak_ptr<Fetch>(self)] {
                                 if (const std::shared_ptr<Fetch> fetch = weak.lock()) {
                                   fetch->OnDeadline();
                                 }
                               });
  }
  owner_.scheduler_.RunAfter(*delay, [self] { self->StartAttempt(); });
}

void RetryingRangeSource::Fetch::OnDeadline() {
  std::unique_lock lock(mu_);
  if (finished_) return;
  const int retries = retries_;
  spdlog::warn("{} bytes={}-{}: no complete answer within the {} ms deadline ({} retries)",
               RedactUrl(file_.url), range_.first, range_.last,
               owner_.policy_.config().deadline.count(), retries);
  Finish(lock, Status(ErrorCode::kTransport, "no complete answer within the deadline after " +
                                                 std::to_string(retries) + " retries"));
}

void RetryingRangeSource::Fetch::Reresolve() {
  Result<RemoteFileInfo> probed = owner_.inner().Probe(file_.url);
  std::unique_lock lock(mu_);
  if (finished_) return;
  if (!probed.ok()) return Finish(lock, probed.status());
  if (!SameVersion(*probed, file_)) {
    return Finish(
        lock, Status(ErrorCode::kRemoteChanged,
                     "resolving the URL again found another version: " + DescribeVersion(*probed)));
  }
  lock.unlock();
  spdlog::info("{}: the redirect target expired; reading from the new one", RedactUrl(file_.url));
  owner_.RememberAddress(file_.url, probed->final_url);
  StartAttempt();
}

RetryingRangeSource::RetryingRangeSource(RangeSource& inner, Scheduler& scheduler,
                                         const RetryConfig& config, Metrics* metrics)
    : ForwardingRangeSource(inner),
      scheduler_(scheduler),
      policy_(config),
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
            ->FirstAttemptSink());
  }
  inner().StartMultiFetch(at, ranges, priority, std::move(attempts));
}

double RetryingRangeSource::Random01() {
  std::lock_guard lock(mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(random_);
}

RemoteFileInfo RetryingRangeSource::CurrentAddress(const RemoteFileInfo& file) {
  std::lock_guard lock(mu_);
  const auto found = addresses_.find(file.url);
  if (found == addresses_.end() || found->second == file.final_url) return file;
  RemoteFileInfo moved = file;
  moved.final_url = found->second;
  return moved;
}

void RetryingRangeSource::RememberAddress(const std::string& url, const std::string& final_url) {
  std::lock_guard lock(mu_);
  addresses_[url] = final_url;
}

}  // namespace rangefs
