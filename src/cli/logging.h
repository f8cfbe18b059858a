// Process-wide logging setup (spdlog's default logger). Everything logs through spdlog::info()
// and friends; only main() decides where the lines go.
#pragma once

#include <string>

#include "rangefs/status.h"

namespace rangefs {

// Logs to stderr; debug level when `debug`.
void InitLogging(bool debug);

// Where log lines go once the file system is mounted. Before that they go to stderr, so that
// whoever ran rangefs (or mount(8)) sees why a mount failed.
enum class LogTarget {
  kStderr,   // -f without --log-file
  kSyslog,   // a daemon: something listens on /dev/log
  kFile,     // --log-file; or a daemon without syslog whose stderr is a regular file
  kNowhere,  // a daemon without syslog whose stderr is a terminal, pipe or /dev/null: lines go
             // to syslog in case one starts later, and a warning said so at start
};

// Chooses, and opens what the choice needs, while a failure can still reach the terminal.
// Move-only; owns the log file's descriptor.
class MountLog {
 public:
  // Fails (kInvalidArgument, naming the file) when --log-file cannot be opened for appending.
  static Result<MountLog> Prepare(const std::string& log_file, bool foreground);

  MountLog(MountLog&& other) noexcept;
  MountLog& operator=(MountLog&&) = delete;
  ~MountLog();

  LogTarget target() const { return target_; }

  // Sends further log lines to the target: call once mounted (in the daemon, after
  // daemonizing, which pointed stderr to /dev/null). For kFile, stderr itself becomes the
  // file, so that libfuse's own messages land there too.
  void Activate();

 private:
  MountLog(LogTarget target, int fd) : target_(target), fd_(fd) {}

  LogTarget target_;
  int fd_;  // kFile: the file, appended to; else -1
};

}  // namespace rangefs
