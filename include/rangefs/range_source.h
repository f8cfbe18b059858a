// RangeSource: the seam between rangefs and wherever the bytes come from. The production
// implementation speaks HTTP through libcurl (http_range_source.h); unit tests use a memory
// source (tests/fakes).
//
// Thread-safety: implementations must allow concurrent calls from many threads (the FUSE
// session loop is multithreaded).
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "rangefs/byte_range.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs {

class RangeSource {
 public:
  virtual ~RangeSource() = default;

  // Learns size, validators and final URL of `url`.
  virtual Result<RemoteFileInfo> Probe(const std::string& url) = 0;

  // Fills `out` with exactly the bytes `range` of `file`, verified: the answer was a 206 for
  // exactly that range of a file of file.size bytes, with an identity body of exactly
  // range.length() bytes. On error `out` may hold garbage and must not be used.
  // REQUIRES: out.size() == range.length(), range.last < file.size.
  virtual Status Fetch(const RemoteFileInfo& file, const ByteRange& range,
                       std::span<std::byte> out) = 0;
};

}  // namespace rangefs
