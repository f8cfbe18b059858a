// Status and Result<T>: errors as values. Nothing in rangefs outside the FUSE adapter knows
// about errno; the adapter maps ErrorCode to errno in one place.
//
// Thread-safety: plain values; safe to copy between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace rangefs {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,      // the caller asked for something malformed (bad URL, bad option)
  kTransport,            // DNS, connect, TLS, timeout or a dropped connection (libcurl error)
  kHttpStatus,           // the server answered with a status we cannot use (404, 500, ...)
  kRangeNotSupported,    // the server answered a range request with the whole file (200)
  kRangeNotSatisfiable,  // 416: the range lies outside the file as the server sees it
  kProtocolViolation,    // the answer lies: wrong Content-Range, short body, encoded body, ...
  kRemoteChanged,        // the remote file is no longer the version a read was made for
  kStaleHandle,          // an inode of a version that has since been replaced
  kNotFound,             // no such file in the mount
  kNotADirectory,        // a directory operation on a file
  kIsADirectory,         // a file operation on the directory
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

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

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
