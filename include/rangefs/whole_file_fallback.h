// WholeFileFallback: a RangeSource for servers that ignore Range. A file whose server answers a
// range request with the whole file (kRangeNotSupported), or whose probe said so, is downloaded
// once, in order, into a private temporary file; each range request is answered from it as soon
// as the download has passed the range's last byte. Files larger than `max_bytes` are refused
// with a clear error instead of being downloaded in secret.
//
// A download that fails fails the requests waiting for it; the next request starts over (a
// server without ranges cannot resume).
//
// Thread-safety: as RangeSource. The inner source must outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "rangefs/forwarding_range_source.h"
#include "rangefs/range_source.h"

namespace rangefs {

class WholeFileFallback final : public ForwardingRangeSource {
 public:
  // Temporary files go in `temp_dir`, unlinked from the start.
  WholeFileFallback(RangeSource& inner, uint64_t max_bytes, std::string temp_dir);
  ~WholeFileFallback() override;

  // Probe and Expedite are forwarded as they are.
  void StartFetch(const RemoteFileInfo& file, const ByteRange& range, FetchPriority priority,
                  std::shared_ptr<RangeSink> sink) override;
  void StartMultiFetch(const RemoteFileInfo& file, const std::vector<ByteRange>& ranges,
                       FetchPriority priority,
                       std::vector<std::shared_ptr<RangeSink>> sinks) override;

 private:
  class Download;
  class DetectingSink;

  // Answers `range` of `file` from its download, starting one when none is usable.
  void ServeFromDownload(const RemoteFileInfo& file, const ByteRange& range,
                         std::shared_ptr<RangeSink> sink);
  void MarkWithoutRanges(const std::string& url);
  bool IsWithoutRanges(const RemoteFileInfo& file);

  const uint64_t max_bytes_;
  const std::string temp_dir_;

  std::mutex mu_;
  std::set<std::string> without_ranges_;  // Guarded by mu_
  std::set<std::string> refused_;         // too large, already logged; Guarded by mu_
  std::map<std::string, std::shared_ptr<Download>> downloads_;  // by URL; Guarded by mu_
};

}  // namespace rangefs
