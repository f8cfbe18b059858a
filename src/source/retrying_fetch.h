// RetryingRangeSource::Fetch: one fetch of a RetryingRangeSource across its attempts, retries,
// redirects and re-resolution. Private to the source (its two .cc files share it).
//
// Thread-safety: as described on the class. Ownership: shared (enable_shared_from_this); each
// attempt's sink and each scheduled task holds it, so it lives until its last callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rangefs/retrying_range_source.h"

namespace rangefs {

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

}  // namespace rangefs
