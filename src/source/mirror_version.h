// The state MirroredRangeSource keeps per version of a mirrored file, shared by its two
// halves: mirrored_range_source.cc (where each attempt goes, and what its end means) and
// mirror_probes.cc (what each address serves: probes and pins). Private to the source.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "rangefs/mirrored_range_source.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs {

struct MirroredRangeSource::Address {
  std::string url;
  size_t health = 0;
  std::optional<RemoteFileInfo> pinned;  // the file as this address serves it (url: its own)
  bool dropped = false;
  bool probing = false;
};

// One version of a mirrored file, all fields guarded by the source's mu_.
struct MirroredRangeSource::Version {
  RemoteFileInfo info;  // as mounted: url is the primary's, the rest from the home address
  size_t home = 0;      // the address whose probe gave `info`
  std::vector<Address> addresses;  // [0] the primary, then its mirrors in order
};

namespace mirror_detail {

inline std::string VersionKey(const RemoteFileInfo& info) {
  return info.url + '\n' + std::to_string(info.size) + '\n' + info.etag + '\n' +
         (info.last_modified ? std::to_string(*info.last_modified) : std::string("-"));
}

inline bool MayPass(ErrorCode code) {
  return code == ErrorCode::kTransport || code == ErrorCode::kTruncated ||
         code == ErrorCode::kServerBusy;
}

}  // namespace mirror_detail

}  // namespace rangefs
