// WholeFileFallback: a RangeSource for servers that ignore Range. A file whose server answers a
// range request with the whole file (kRangeNotSupported), or whose probe said so, is downloaded
// once, in order, into a private temporary file; each range request is answered from it as soon
// as the download has passed the range's last byte. Files larger than `max_bytes` are refused
// with a clear error instead of being downloaded in secret.
//
// A download is of one version: a request names the version it wants (size, ETag,
// Last-Modified) and only a download of that version answers it. A download that fails fails
// the requests waiting for it; the next request starts over (a server without ranges cannot
// resume).
//
// Thread-safety: as RangeSource. No lock is held while the temporary file is created or written,
// or while a sink is called (sinks may call back into this source). The inner source must
// outlive it.
#pragma once

#include <compare>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

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

  // Which download may answer a request: one version of one file. A download of another
  // version never answers, even at the same URL.
  struct DownloadKey {
    std::string url;
    uint64_t size = 0;
    std::string etag;
    std::optional<std::time_t> last_modified;
    auto operator<=>(const DownloadKey&) const = default;
  };
  static DownloadKey KeyOf(const RemoteFileInfo& file);

  // The download of `key` that has not failed, or null.
  std::shared_ptr<Download> FindDownload(const DownloadKey& key);
  // Answers `range` of `file` from its download, starting one when none is usable.
  void ServeFromDownload(const RemoteFileInfo& file, const ByteRange& range,
                         std::shared_ptr<RangeSink> sink);
  void MarkWithoutRanges(const std::string& url);
  bool IsWithoutRanges(const RemoteFileInfo& file);

  const uint64_t max_bytes_;
  const std::string temp_dir_;

  std::mutex mu_;
  // A property of the server address, so by URL (whatever the version).
  std::set<std::string> without_ranges_;  // Guarded by mu_
  std::set<DownloadKey> refused_;         // too large, already logged; Guarded by mu_
  std::map<DownloadKey, std::shared_ptr<Download>> downloads_;  // Guarded by mu_
};

}  // namespace rangefs
