// RetryingRangeSource: a RangeSource that retries the fetches of another. A fetch that fails in
// a way that may pass (IsRetryable) is tried again after a backoff (RetryPolicy), asking only
// for the bytes not yet delivered, so its sink sees one uninterrupted body of verified bytes:
// a 1000-byte range dropped after byte 400 resumes with bytes=400-999, carrying the same
// version precondition. A 403, 404 or 410 from a URL reached by redirect (kUrlExpired) makes it
// resolve the original URL again, once per fetch, and go on at the new address when the
// version there is the same.
//
// Reprobe (a probe of a file the mount serves, at revalidation) is retried the same way, by
// the same policy and within the same deadline, waiting out each backoff on the scheduler;
// Probe (the mount's, which must fail fast on a bad URL) and Expedite are forwarded as they are.
// A fetch the inner source ends with kRedirected (a server that answers HEAD itself and
// redirects range GETs, as signing front ends of object stores do) is asked again at once at
// the target the status names: not a retry, and with the same range and precondition, so the
// answer there is held to the pinned version like any other. At most kMaxRedirects in a row; a
// redirect that repeats a hop of the same chain is a loop. Either ends the fetch (kHttpStatus)
// with one log line. Where a chain ends with the range served is remembered for the file's
// URL (never an intermediate hop, nor the end of a chain that failed), and later fetches go
// straight there, until a fetch from it fails: then it is forgotten, and fetches go back to
// where the redirect came from (which redirects again; a 403/404/410 there re-resolves first).
//
// Bounded: once a fetch has failed, it ends by its deadline (RetryConfig::deadline from its
// start) whatever the inner source does; bytes the inner source delivers after that are
// refused, which aborts the transfer. A deadline that falls while the sink is taking bytes ends
// the fetch as soon as the sink returns: its OnDone comes after those bytes, never beside them.
//
// Thread-safety: as RangeSource. Sinks are called with no lock of this class held (they may call
// back into it), from the inner source's threads or the scheduler's. The inner source and the
// scheduler must outlive it, and the scheduler must stop running tasks before the inner source is
// destroyed (main does).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stop_token>
#include <string>

#include "rangefs/forwarding_range_source.h"
#include "rangefs/metrics.h"
#include "rangefs/range_source.h"
#include "rangefs/retry_policy.h"
#include "rangefs/scheduler.h"

namespace rangefs {

class RetryingRangeSource final : public ForwardingRangeSource {
 public:
  // `metrics` (may be null; must outlive this) counts each retry under the file's URL.
  // `stop`, once requested, ends the backoff waits of a Reprobe (rangefs is stopping).
  RetryingRangeSource(RangeSource& inner, Scheduler& scheduler, const RetryConfig& config,
                      Metrics* metrics = nullptr, std::stop_token stop = {});

  // Probe and Expedite are forwarded as they are: the mount's probe is not retried.
  //
  // Reprobe: the inner ProbeWithin, tried again after a backoff while it fails in a way that
  // may pass, until the policy's retries or its deadline (from the first try) run out; then its
  // last failure. Blocks the calling thread (a lookup or open, which needs the answer) for the
  // backoffs, which the scheduler ends, or `stop`; each try gets the time the deadline leaves,
  // so the whole stays within it.
  Result<RemoteFileInfo> Reprobe(const std::string& url) override;

  void StartFetch(const RemoteFileInfo& file, const ByteRange& range, FetchPriority priority,
                  std::shared_ptr<RangeSink> sink) override;
  void StartMultiFetch(const RemoteFileInfo& file, const std::vector<ByteRange>& ranges,
                       FetchPriority priority,
                       std::vector<std::shared_ptr<RangeSink>> sinks) override;

 private:
  class Fetch;
  friend class Fetch;

  double Random01();
  // Blocks until the scheduler has let `delay` pass (or dropped the wait: it is stopping).
  void WaitOnScheduler(std::chrono::milliseconds delay);
  // The file as it should be fetched now: at the address a redirect of a range GET led to, if
  // one is remembered; else at the address a re-resolution found, if any.
  RemoteFileInfo CurrentAddress(const RemoteFileInfo& file);
  void RememberAddress(const std::string& url, const std::string& final_url);
  // Range GETs of `url` were redirected to `target`, which served one: later ones go there.
  // Returns whether no target was remembered for `url` before.
  bool RememberRedirect(const std::string& url, const std::string& target);
  // A fetch of `url` at `address` failed: if that is the remembered redirect target, it is
  // forgotten. Returns whether it was.
  bool ForgetRedirect(const std::string& url, const std::string& address);

  Scheduler& scheduler_;
  const RetryPolicy policy_;
  const std::stop_token stop_;
  Metrics* const metrics_;

  std::mutex mu_;
  std::mt19937_64 random_;                         // Guarded by mu_
  std::map<std::string, std::string> addresses_;   // url -> re-resolved final URL; Guarded by mu_
  std::map<std::string, std::string> redirected_;  // url -> range GET target; Guarded by mu_
};

}  // namespace rangefs
