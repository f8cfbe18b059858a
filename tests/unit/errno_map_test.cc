#include "fuse/errno_map.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace rangefs {
namespace {

TEST(ErrnoMapTest, NamesAndAttributesGetTheirOwnErrno) {
  EXPECT_EQ(ErrnoFor(ErrorCode::kOk), 0);
  EXPECT_EQ(ErrnoFor(ErrorCode::kNotFound), ENOENT);
  EXPECT_EQ(ErrnoFor(ErrorCode::kNotADirectory), ENOTDIR);
  EXPECT_EQ(ErrnoFor(ErrorCode::kIsADirectory), EISDIR);
  EXPECT_EQ(ErrnoFor(ErrorCode::kNoSuchAttribute), ENODATA);
  EXPECT_EQ(ErrnoFor(ErrorCode::kInvalidArgument), EINVAL);
  EXPECT_EQ(ErrnoFor(ErrorCode::kStaleHandle), ESTALE);
}

TEST(ErrnoMapTest, EveryFailureToGetTheBytesIsEio) {
  for (const ErrorCode code :
       {ErrorCode::kRemoteChanged, ErrorCode::kTransport, ErrorCode::kTruncated,
        ErrorCode::kServerBusy, ErrorCode::kUrlExpired, ErrorCode::kRedirected,
        ErrorCode::kHttpStatus, ErrorCode::kRangeNotSupported, ErrorCode::kRangeNotSatisfiable,
        ErrorCode::kProtocolViolation, ErrorCode::kInternal}) {
    EXPECT_EQ(ErrnoFor(code), EIO) << ErrorCodeName(code);
  }
}

}  // namespace
}  // namespace rangefs
