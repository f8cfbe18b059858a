// ForwardingRangeSource: a RangeSource that passes every call to another one, the base of the
// decorators (retries, the whole-file fallback, and sources to come such as a disk cache or a
// mirror), as leveldb's EnvWrapper is for Env. A decorator derives from it and overrides only
// the calls it changes; every other call, including any added to RangeSource later, reaches the
// inner source unchanged. In particular StartMultiFetch goes to the inner StartMultiFetch, so a
// decorator that leaves it alone keeps HTTP multi-range requests.
//
// Thread-safety: as the inner source; this class keeps no state of its own. The inner source is
// not owned and must outlive it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rangefs/range_source.h"

namespace rangefs {

class ForwardingRangeSource : public RangeSource {
 public:
  explicit ForwardingRangeSource(RangeSource& inner) : inner_(inner) {}
  ForwardingRangeSource(const ForwardingRangeSource&) = delete;
  ForwardingRangeSource& operator=(const ForwardingRangeSource&) = delete;

  Result<RemoteFileInfo> Probe(const std::string& url) override { return inner_.Probe(url); }
  Result<RemoteFileInfo> Reprobe(const std::string& url) override { return inner_.Reprobe(url); }
  Result<RemoteFileInfo> ProbeWithin(const std::string& url,
                                     std::chrono::milliseconds budget) override {
    return inner_.ProbeWithin(url, budget);
  }
  void StartFetch(const RemoteFileInfo& file, const ByteRange& range, FetchPriority priority,
                  std::shared_ptr<RangeSink> sink) override {
    inner_.StartFetch(file, range, priority, std::move(sink));
  }
  void StartMultiFetch(const RemoteFileInfo& file, const std::vector<ByteRange>& ranges,
                       FetchPriority priority,
                       std::vector<std::shared_ptr<RangeSink>> sinks) override {
    inner_.StartMultiFetch(file, ranges, priority, std::move(sinks));
  }
  void Expedite(const RemoteFileInfo& file, const ByteRange& range) override {
    inner_.Expedite(file, range);
  }

 protected:
  // The source this one decorates.
  RangeSource& inner() const { return inner_; }

 private:
  RangeSource& inner_;
};

}  // namespace rangefs
