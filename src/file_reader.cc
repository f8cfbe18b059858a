#include "rangefs/file_reader.h"

namespace rangefs {

Result<size_t> FileReader::Read(uint64_t offset, std::span<std::byte> out) {
  const std::optional<ByteRange> range = ClampToFile(offset, out.size(), file_.size);
  if (!range) return size_t{0};
  const size_t length = static_cast<size_t>(range->length());
  if (Status status = source_.Fetch(file_, *range, out.first(length)); !status.ok()) {
    return status;
  }
  return length;
}

}  // namespace rangefs
