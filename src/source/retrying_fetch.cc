#include "source/retrying_fetch.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "rangefs/redact.h"

namespace rangefs {

using std::chrono::milliseconds;

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

}  // namespace rangefs
