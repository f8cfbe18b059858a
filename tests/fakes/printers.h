// gtest printers for rangefs value types, so that failed assertions show "not-found" or
// "[0, 99]" instead of raw object bytes. Found by ADL: each lives in its type's namespace.
#pragma once

#include <ostream>

#include "rangefs/byte_range.h"
#include "rangefs/status.h"

namespace rangefs {

inline void PrintTo(ErrorCode code, std::ostream* os) { *os << ErrorCodeName(code); }

inline void PrintTo(const Status& status, std::ostream* os) { *os << status.ToString(); }

inline void PrintTo(const ByteRange& range, std::ostream* os) {
  *os << "[" << range.first << ", " << range.last << "]";
}

}  // namespace rangefs
