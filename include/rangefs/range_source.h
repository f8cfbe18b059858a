// RangeSource: the seam between rangefs and wherever the bytes come from. The production
// implementation speaks HTTP through libcurl (http_range_source.h); unit tests use a memory
// source (tests/fakes).
//
// Thread-safety: implementations allow concurrent calls from many threads (the FUSE session
// loop is multithreaded). Sinks are called from the source's own thread(s), or from the
// calling thread for sources that complete inline.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rangefs/byte_range.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs {

// Receives the body of one range request, verified and in order.
class RangeSink {
 public:
  virtual ~RangeSink() = default;
  // The next bytes of the range, starting at its first byte. Called only after the response's
  // status and headers were verified to answer exactly this range of this file. Must not block.
  // Returning false abandons the transfer; OnDone then reports an error.
  virtual bool OnData(std::span<const std::byte> data) = 0;
  // Called exactly once, after the last OnData. ok() means every byte of the range arrived;
  // on error the bytes already delivered are still correct, just not all of them.
  virtual void OnDone(const Status& status) = 0;
};

// Demand fetches serve a reader that is waiting; prefetches may queue behind them.
enum class FetchPriority { kDemand, kPrefetch };

// Most redirects one request follows in a row, the probe's and a range fetch's alike. RFC 9110
// suggests clients follow a handful; 10 matches curl's CLI.
inline constexpr int kMaxRedirects = 10;

class RangeSource {
 public:
  virtual ~RangeSource() = default;

  // Learns size, validators and final URL of `url`.
  virtual Result<RemoteFileInfo> Probe(const std::string& url) = 0;

  // Probe, for a file the mount already serves: a revalidation, or the first probe of a file a
  // listing named. Probe itself answers the mount's question about its operands, where a bad
  // URL must refuse the mount at once; here a source may retry what may pass (a busy server,
  // a dropped connection) within its deadline, since a failure makes the user's stat or open
  // fail or wait. This default asks once.
  virtual Result<RemoteFileInfo> Reprobe(const std::string& url) { return Probe(url); }

  // Probe, answered (or failed) within `budget`, redirects included, where the source can bound
  // one probe: the retry layer gives each try of a Reprobe what its deadline leaves, so a slow
  // answer near the deadline cannot stretch a lookup to twice --timeout. This default ignores
  // the budget (the source's own request timeout still holds).
  virtual Result<RemoteFileInfo> ProbeWithin(const std::string& url, std::chrono::milliseconds) {
    return Probe(url);
  }

  // Starts fetching `range` of `file` into `sink` and returns without waiting. The request
  // goes to file.final_url. A source may end it with kRedirected, naming in
  // Status::redirect_to() the checked address the bytes are to be asked for at instead (a
  // server that redirects range requests its HEAD did not): the caller follows it, at most
  // kMaxRedirects in a row (RetryingRangeSource does).
  // REQUIRES: range.last < file.size.
  virtual void StartFetch(const RemoteFileInfo& file, const ByteRange& range,
                          FetchPriority priority, std::shared_ptr<RangeSink> sink) = 0;

  // Starts fetching several ranges of `file` at once, each into its own sink (ranges[i] into
  // sinks[i]); each sink gets the same guarantees as with StartFetch. Sources that can ask for
  // them in one request (HTTP multi-range) do; this default starts one fetch per range.
  // REQUIRES: ranges.size() == sinks.size(); every range.last < file.size.
  virtual void StartMultiFetch(const RemoteFileInfo& file, const std::vector<ByteRange>& ranges,
                               FetchPriority priority,
                               std::vector<std::shared_ptr<RangeSink>> sinks);

  // A reader waits for bytes of `range` of `file` that an earlier fetch is bringing: a fetch
  // that still waits behind others for a connection (a queued prefetch) should start now.
  // Sources that never queue have nothing to do.
  virtual void Expedite(const RemoteFileInfo& file, const ByteRange& range) {
    (void)file;
    (void)range;
  }

  // Fetches `range` into `out` and waits: exactly those bytes, verified, or an error (then `out`
  // may hold garbage and must not be used).
  // REQUIRES: out.size() == range.length(), range.last < file.size.
  Status Fetch(const RemoteFileInfo& file, const ByteRange& range, std::span<std::byte> out);
};

}  // namespace rangefs
