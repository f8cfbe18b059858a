#include "fuse/errno_map.h"

#include <cerrno>

namespace rangefs {

int ErrnoFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return 0;
    case ErrorCode::kNotFound:
      return ENOENT;
    case ErrorCode::kNotADirectory:
      return ENOTDIR;
    case ErrorCode::kIsADirectory:
      return EISDIR;
    // Linux's name for ENOATTR, what getxattr(2) answers for a name the file does not have.
    case ErrorCode::kNoSuchAttribute:
      return ENODATA;
    case ErrorCode::kInvalidArgument:
      return EINVAL;
    // The kernel answers ESTALE from open or getattr by looking the name up again, which
    // finds the inode of the current version.
    case ErrorCode::kStaleHandle:
      return ESTALE;
    case ErrorCode::kRemoteChanged:
    case ErrorCode::kTransport:
    case ErrorCode::kTruncated:
    case ErrorCode::kServerBusy:
    case ErrorCode::kUrlExpired:
    case ErrorCode::kRedirected:
    case ErrorCode::kHttpStatus:
    case ErrorCode::kRangeNotSupported:
    case ErrorCode::kRangeNotSatisfiable:
    case ErrorCode::kProtocolViolation:
    case ErrorCode::kLimitExceeded:
    case ErrorCode::kInternal:
      return EIO;
  }
  return EIO;
}

}  // namespace rangefs
