#include "rangefs/status.h"

namespace rangefs {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kInvalidArgument:
      return "invalid-argument";
    case ErrorCode::kTransport:
      return "transport";
    case ErrorCode::kTruncated:
      return "truncated";
    case ErrorCode::kServerBusy:
      return "server-busy";
    case ErrorCode::kUrlExpired:
      return "url-expired";
    case ErrorCode::kRedirected:
      return "redirected";
    case ErrorCode::kHttpStatus:
      return "http-status";
    case ErrorCode::kRangeNotSupported:
      return "range-not-supported";
    case ErrorCode::kRangeNotSatisfiable:
      return "range-not-satisfiable";
    case ErrorCode::kProtocolViolation:
      return "protocol-violation";
    case ErrorCode::kRemoteChanged:
      return "remote-changed";
    case ErrorCode::kStaleHandle:
      return "stale-handle";
    case ErrorCode::kNotFound:
      return "not-found";
    case ErrorCode::kNotADirectory:
      return "not-a-directory";
    case ErrorCode::kIsADirectory:
      return "is-a-directory";
    case ErrorCode::kNoSuchAttribute:
      return "no-such-attribute";
    case ErrorCode::kLimitExceeded:
      return "limit-exceeded";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

bool IsRetryable(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kTransport:
    case ErrorCode::kTruncated:
    case ErrorCode::kServerBusy:
      return true;
    default:
      return false;
  }
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(ErrorCodeName(code_)) + ": " + message_;
}

}  // namespace rangefs
