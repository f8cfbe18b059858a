// FileReader: the read path of one open file handle. It holds the version of the file that
// was current when the handle was opened and turns reads into verified range fetches.
//
// Thread-safety: Read() may be called concurrently (the kernel may issue parallel reads on
// one handle). The RangeSource must outlive the reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "rangefs/range_source.h"
#include "rangefs/remote_file.h"
#include "rangefs/status.h"

namespace rangefs {

class FileReader {
 public:
  FileReader(RangeSource& source, RemoteFileInfo file) : source_(source), file_(std::move(file)) {}

  // Reads up to out.size() bytes at `offset`. Returns the number of bytes read: fewer than
  // asked only at end of file, and 0 (without any request) at or past it.
  Result<size_t> Read(uint64_t offset, std::span<std::byte> out);

  const RemoteFileInfo& file() const { return file_; }

 private:
  RangeSource& source_;
  const RemoteFileInfo file_;
};

}  // namespace rangefs
