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

namespace rangefs {

using std::chrono::milliseconds;

// One fetch across its attempts. Attempts are numbered; callbacks of an attempt that is no
// longer current (superseded, or after the fetch ended) are refused or ignored.
//
// No lock of this class is held while the sink runs: the sink takes locks of its own (the block
// cache's, a download's) and may call back into sources. The guarantees a lock across the call
// would give are kept by a small state machine instead:
//  - one delivery at a time: OnData is called only by the thread that set `delivering_`, which
//    is the current attempt's transfer; the next attempt starts only after this one's OnDone, so
//    the sink sees one body, in order;
//  - OnDone once: whoever sets `finished_` (under mu_) owns the OnDone call and makes it after
//    unlocking. If a delivery is in progress then (the deadline fired meanwhile), the status is
//    parked in `parked_end_` and the delivering thread makes the call as soon as the sink has
//    returned from OnData, so no byte reaches the sink after its OnDone;
//  - after the end, every byte is refused, which aborts the transfer.
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

  // Starts the current attempt at the file's current address (CurrentAddress), or at `address`
  // when a redirect named it.
  void StartAttempt(std::optional<std::string> address = std::nullopt);
  // The sink for the current attempt: for a first attempt that is part of a multi-range
  // request the caller makes at `address`.
  std::shared_ptr<RangeSink> FirstAttemptSink(const std::string& address);
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
  // The current attempt was redirected: asks again at once where it leads, or ends the fetch
  // when the chain is too long or loops. REQUIRES: `lock` holds mu_.
  void FollowRedirect(std::unique_lock<std::mutex>& lock, const Status& status);
  // Starts the timer that ends the fetch at its deadline. Called once, by whoever set
  // deadline_armed_.
  void ArmDeadline();
  void OnDeadline();
  void Reresolve();
  // Marks the fetch ended with `status` unless it has ended. Returns whether the caller must
  // now call sink_->OnDone(status), after releasing mu_; false when the fetch had ended, or when
  // a delivery is in progress and its thread will make the call. REQUIRES: mu_ held.
  bool EndLocked(const Status& status);
  // EndLocked, then the OnDone call it asks for, with mu_ released. REQUIRES: `lock` holds mu_.
  void Finish(std::unique_lock<std::mutex>& lock, const Status& status);

  RetryingRangeSource& owner_;
  const RemoteFileInfo file_;
  const ByteRange range_;
  const FetchPriority priority_;
  const std::shared_ptr<RangeSink> sink_;
  const Scheduler::Clock::time_point deadline_;

  std::mutex mu_;
  uint64_t attempt_ = 0;    // the current attempt; Guarded by mu_
  std::string address_;     // where the current attempt asks; Guarded by mu_
  uint64_t delivered_ = 0;  // bytes of range_ the sink has; Guarded by mu_
  // The redirects (from, to) followed since the last answer that was not a redirect.
  std::vector<std::pair<std::string, std::string>> hops_;  // Guarded by mu_
  int retries_ = 0;                                        // Guarded by mu_
  bool reresolved_ = false;                                // Guarded by mu_
  bool deadline_armed_ = false;                            // Guarded by mu_
  bool delivering_ = false;           // a thread is inside sink_->OnData; Guarded by mu_
  bool finished_ = false;             // Guarded by mu_
  std::optional<Status> parked_end_;  // OnDone owed by the delivering thread; Guarded by mu_
};

std::shared_ptr<RangeSink> RetryingRangeSource::Fetch::FirstAttemptSink(
    const std::string& address) {
  {
    std::lock_guard lock(mu_);
    address_ = address;
  }
  return std::make_shared<AttemptSink>(shared_from_this(), 0);
}

void RetryingRangeSource::Fetch::StartAttempt(std::optional<std::string> address) {
  // Looked up before mu_ is taken: CurrentAddress takes the owner's lock.
  RemoteFileInfo at = owner_.CurrentAddress(file_);
  if (address) at.final_url = std::move(*address);
  uint64_t attempt = 0;
  ByteRange rest{};
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    attempt = attempt_;
    rest = ByteRange{range_.first + delivered_, range_.last};
    address_ = at.final_url;
  }
  owner_.inner().StartFetch(at, rest, priority_,
                            std::make_shared<AttemptSink>(shared_from_this(), attempt));
}

bool RetryingRangeSource::Fetch::OnAttemptData(uint64_t attempt, std::span<const std::byte> data) {
  {
    std::lock_guard lock(mu_);
    // A second delivery at once would break a source's contract; refusing it keeps the body in
    // order (the transfer fails, and a retry resumes from the first missing byte).
    if (finished_ || attempt != attempt_ || delivering_) return false;
    delivering_ = true;
  }
  const bool taken = sink_->OnData(data);
  std::optional<Status> end;
  {
    std::lock_guard lock(mu_);
    delivering_ = false;
    if (taken) delivered_ += data.size();
    if (!finished_) return taken;
    // The fetch ended while the sink took these bytes: the OnDone is this thread's to make.
    end.swap(parked_end_);
  }
  if (end) sink_->OnDone(*end);
  return false;  // nothing more after the end: aborts the transfer
}

bool RetryingRangeSource::Fetch::EndLocked(const Status& status) {
  if (finished_) return false;
  finished_ = true;
  if (!delivering_) return true;
  parked_end_ = status;
  return false;
}

void RetryingRangeSource::Fetch::Finish(std::unique_lock<std::mutex>& lock, const Status& status) {
  if (!EndLocked(status)) return;
  lock.unlock();
  sink_->OnDone(status);
}

void RetryingRangeSource::Fetch::OnAttemptDone(uint64_t attempt, const Status& status) {
  std::string address;
  {
    std::unique_lock lock(mu_);
    if (finished_ || attempt != attempt_) return;
    if (status.code() == ErrorCode::kRedirected) return FollowRedirect(lock, status);
    const bool redirected = !hops_.empty();
    hops_.clear();
    if (status.ok() && !redirected) return Finish(lock, status);
    address = address_;
  }
  if (status.ok()) {
    // A chain of redirects ended at an address that served the range: later fetches of the
    // file go there directly. Remembered before the sink hears of the end, as it may start the
    // next fetch; intermediate hops, and chains that end otherwise, are never remembered.
    if (owner_.RememberRedirect(file_.url, address)) {
      spdlog::info(
          "{}: the server redirects range requests (to {}); asking there directly "
          "from now on",
          RedactUrl(file_.url), RedactUrl(address));
    }
    std::unique_lock lock(mu_);
    return Finish(lock, status);
  }
  // An address a redirect led to failed (a signed URL that expired, a storage host that is
  // down): later fetches go back to where the redirect came from, to be redirected anew.
  // kInternal is rangefs's own end of a transfer (shutdown, a reader gone), not the address's.
  if (status.code() != ErrorCode::kInternal && owner_.ForgetRedirect(file_.url, address)) {
    spdlog::debug("{}: forgetting the redirect target {} after: {}", RedactUrl(file_.url),
                  RedactUrl(address), status.ToString());
  }

  int retries = 0;
  {
    std::unique_lock lock(mu_);
    if (finished_) return;  // the deadline ended the fetch meanwhile
    if (status.code() == ErrorCode::kUrlExpired && !reresolved_) {
      reresolved_ = true;
      ++attempt_;
      lock.unlock();
      // A probe blocks for a round trip: not on the source's thread, which runs every transfer.
      owner_.scheduler_.RunAfter(milliseconds(0),
                                 [self = shared_from_this()] { self->Reresolve(); });
      return;
    }
    retries = retries_;
  }

  // Decided with mu_ released: the clock and the random draw take locks of their own. Only
  // this attempt's OnDone moves the fetch on from here, so what was read stays true, except
  // that the deadline may end the fetch meanwhile (checked below).
  const auto time_left =
      std::chrono::duration_cast<milliseconds>(deadline_ - owner_.scheduler_.Now());
  const std::optional<milliseconds> delay =
      owner_.policy_.DelayBeforeRetry(retries + 1, status, time_left, owner_.Random01());
  if (!delay) {
    {
      std::lock_guard lock(mu_);
      if (!EndLocked(status)) return;
    }
    // A server that ignores Range is no reason to give up: the whole-file fallback answers
    // the range, and says so.
    if (retries > 0 && status.code() != ErrorCode::kRangeNotSupported) {
      spdlog::warn("{} bytes={}-{}: giving up after {} retries: {}", RedactUrl(file_.url),
                   range_.first, range_.last, retries, status.ToString());
    }
    return sink_->OnDone(status);
  }

  bool arm_deadline = false;
  uint64_t resume_at = 0;
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    retries = ++retries_;
    ++attempt_;
    arm_deadline = !deadline_armed_;
    deadline_armed_ = true;
    resume_at = range_.first + delivered_;
  }
  if (owner_.metrics_) owner_.metrics_->CountRetry(file_.url);
  spdlog::info("{} bytes={}-{}: retry {} in {} ms from byte {}: {}", RedactUrl(file_.url),
               range_.first, range_.last, retries, delay->count(), resume_at, status.ToString());
  // Only failing (or redirected) fetches get a timer: a first attempt is bounded by the request
  // timeout.
  if (arm_deadline) ArmDeadline();
  owner_.scheduler_.RunAfter(*delay, [self = shared_from_this()] { self->StartAttempt(); });
}

void RetryingRangeSource::Fetch::FollowRedirect(std::unique_lock<std::mutex>& lock,
                                                const Status& status) {
  std::pair<std::string, std::string> hop{address_, status.redirect_to()};
  std::optional<Status> refused;
  if (hop.second.empty()) {
    refused = Status(ErrorCode::kInternal, "a redirect without a target: " + status.message());
  } else if (std::find(hops_.begin(), hops_.end(), hop) != hops_.end()) {
    // The same hop twice in one chain: the server sends the request round in a circle.
    std::string chain = RedactUrl(hops_.front().first);
    for (const auto& followed : hops_) chain += " -> " + RedactUrl(followed.second);
    refused = Status(ErrorCode::kHttpStatus,
                     "redirect loop on a range request: " + chain + " -> " + RedactUrl(hop.second));
  } else if (hops_.size() >= static_cast<size_t>(kMaxRedirects)) {
    refused = Status(ErrorCode::kHttpStatus,
                     "more than " + std::to_string(kMaxRedirects) +
                         " redirects of a range request (the next: redirect from " +
                         RedactUrl(hop.first) + " to " + RedactUrl(hop.second) + ")");
  }
  if (refused) {
    // Where the chain began: the remembered target, if the fetch started there.
    const std::string start = hops_.empty() ? address_ : hops_.front().first;
    const bool call_sink = EndLocked(*refused);
    lock.unlock();
    owner_.ForgetRedirect(file_.url, start);
    spdlog::warn("{} bytes={}-{}: {}", RedactUrl(file_.url), range_.first, range_.last,
                 refused->message());
    if (call_sink) sink_->OnDone(*refused);
    return;
  }
  hops_.push_back(hop);
  ++attempt_;
  const bool arm_deadline = !deadline_armed_;
  deadline_armed_ = true;
  lock.unlock();

  spdlog::debug("{} bytes={}-{}: redirected from {} to {}", RedactUrl(file_.url), range_.first,
                range_.last, RedactUrl(hop.first), RedactUrl(hop.second));
  // A chain of redirects, each hop bounded by the request timeout, is bounded as a whole by
  // the fetch's deadline.
  if (arm_deadline) ArmDeadline();
  // Not a retry: no backoff, nothing counted. Started from the timer like every later attempt,
  // so not from inside the inner source's callback, and never after the timer has stopped at
  // shutdown.
  owner_.scheduler_.RunAfter(
      milliseconds(0),
      [self = shared_from_this(), target = std::move(hop.second)] { self->StartAttempt(target); });
}

void RetryingRangeSource::Fetch::ArmDeadline() {
  const auto time_left =
      std::chrono::duration_cast<milliseconds>(deadline_ - owner_.scheduler_.Now());
  owner_.scheduler_.RunAfter(std::max(time_left, milliseconds(0)),
                             [weak = std::weak_ptr<Fetch>(shared_from_this())] {
                               if (const std::shared_ptr<Fetch> fetch = weak.lock()) {
                                 fetch->OnDeadline();
                               }
                             });
}

void RetryingRangeSource::Fetch::OnDeadline() {
  int retries = 0;
  Status status;
  bool call_sink = false;
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    retries = retries_;
    status = Status(ErrorCode::kTransport, "no complete answer within the deadline after " +
                                               std::to_string(retries) + " retries");
    call_sink = EndLocked(status);
  }
  spdlog::warn("{} bytes={}-{}: no complete answer within the {} ms deadline ({} retries)",
               RedactUrl(file_.url), range_.first, range_.last,
               owner_.policy_.config().deadline.count(), retries);
  if (call_sink) sink_->OnDone(status);
}

void RetryingRangeSource::Fetch::Reresolve() {
  Result<RemoteFileInfo> probed = owner_.inner().Probe(file_.url);
  {
    std::unique_lock lock(mu_);
    if (finished_) return;
    if (!probed.ok()) return Finish(lock, probed.status());
    if (!SameVersion(*probed, file_)) {
      return Finish(lock, Status(ErrorCode::kRemoteChanged,
                                 "resolving the URL again found another version: " +
                                     DescribeVersion(*probed)));
    }
  }
  spdlog::info("{}: the redirect target expired; reading from the new one", RedactUrl(file_.url));
  owner_.RememberAddress(file_.url, probed->final_url);
  StartAttempt();
}

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
