// Status and Result<T>: errors as values. Nothing in rangefs outside the FUSE adapter knows
// about errno; the adapter maps ErrorCode to errno in one place.
//
// Thread-safety: plain values; safe to copy between threads.
#pragma once

#include <cassert>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace rangefs {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,      // the caller asked for something malformed (bad URL, bad option)
  kTransport,            // DNS, connect, TLS, timeout or a dropped connection (libcurl error)
  kTruncated,            // the body ended before the promised bytes (the rest may follow)
  kServerBusy,           // 408, 429 or 5xx: the server may answer later (see retry_after())
  kUrlExpired,           // 403, 404 or 410 from a URL reached by redirect (presigned, expired)
  kRedirected,           // a range request was redirected: ask again at redirect_to()
  kHttpStatus,           // the server answered with a status we cannot use (404, 500, ...)
  kRangeNotSupported,    // the server answered a range request with the whole file (200)
  kRangeNotSatisfiable,  // 416: the range lies outside the file as the server sees it
  kProtocolViolation,    // the answer lies: wrong Content-Range, short body, encoded body, ...
  kRemoteChanged,        // the remote file is no longer the version a read was made for
  kStaleHandle,          // an inode of a version that has since been replaced
  kNotFound,             // no such file in the mount
  kNotADirectory,        // a directory operation on a file
  kIsADirectory,         // a file operation on the directory
  kNoSuchAttribute,      // an extended attribute the file does not have
  kLimitExceeded,        // an input larger than a configured limit (a listing, its entries)
  kInternal,             // a bug or resource exhaustion on our side
};

// Name of the code for logs ("transport", "http-status", ...).
const char* ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "http-status: HTTP 404 Not Found" or "ok".
  std::string ToString() const;

  // How long the server asked the client to wait (Retry-After), when it did.
  const std::optional<std::chrono::milliseconds>& retry_after() const { return retry_after_; }
  Status&& WithRetryAfter(std::chrono::milliseconds delay) && {
    retry_after_ = delay;
    return std::move(*this);
  }

  // Where a kRedirected answer says the bytes are: an absolute http(s) URL, already checked
  // against the redirect rules by the source that saw it. Empty for every other status.
  const std::string& redirect_to() const { return redirect_to_; }
  Status&& WithRedirectTo(std::string url) && {
    redirect_to_ = std::move(url);
    return std::move(*this);
  }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::optional<std::chrono::milliseconds> retry_after_;
  std::string redirect_to_;
};

// Whether trying the same request again may succeed: transport failures, truncated bodies and
// servers that are busy or failing for now. A lie (wrong Content-Range, an encoded body) or a
// status such as 404 is not retried: the same request would get the same answer.
bool IsRetryable(const Status& status);

// Either a T or a non-ok Status. GCC 12 in C++20 mode has no std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design, like StatusOr
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "a Result built from a Status must carry an error");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok()
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace rangefs
