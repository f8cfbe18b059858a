#include "cli/logging.h"

#include <fcntl.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace rangefs {
namespace {

// What glibc's syslog() would do: connect to /dev/log, as a datagram socket or, if it is a
// stream socket, as that. False when nothing is there or nothing listens (a container, say).
bool SyslogListens() {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  constexpr char kPath[] = "/dev/log";
  static_assert(sizeof kPath <= sizeof address.sun_path);
  std::memcpy(address.sun_path, kPath, sizeof kPath);
  for (const int type : {SOCK_DGRAM, SOCK_STREAM}) {
    const int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    const int error = errno;
    close(fd);
    if (rc == 0) return true;
    if (error != EPROTOTYPE) return false;
  }
  return false;
}

bool StderrIsRegularFile() {
  struct stat st {};
  return fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode);
}

void LogToSyslog() {
  const spdlog::level::level_enum level = spdlog::default_logger()->level();
  auto logger = spdlog::syslog_logger_mt("rangefs-syslog", "rangefs", LOG_PID, LOG_DAEMON);
  logger->set_pattern("%l: %v");
  logger->set_level(level);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace

void InitLogging(bool debug) {
  auto logger = spdlog::stderr_logger_mt("rangefs");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e rangefs %l: %v");
  logger->set_level(debug ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

Result<MountLog> MountLog::Prepare(const std::string& log_file, bool foreground) {
  if (!log_file.empty()) {
    // 0600: lines name URLs (redacted, but paths and hosts remain).
    const int fd = open(log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Status(ErrorCode::kInvalidArgument,
                    "--log-file " + log_file + ": " + std::strerror(errno));
    }
    return MountLog(LogTarget::kFile, fd);
  }
  if (foreground) return MountLog(LogTarget::kStderr, -1);
  if (SyslogListens()) return MountLog(LogTarget::kSyslog, -1);
  // No syslog (a container without one): keep the lines where stderr goes if that is a
  // file someone will read. A pipe or a terminal is not kept: whoever reads the pipe would
  // wait for its end as long as the mount lasts, and the terminal belongs to the shell.
  if (StderrIsRegularFile()) {
    const int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (fd >= 0) return MountLog(LogTarget::kFile, fd);
  }
  spdlog::warn(
      "nothing listens on /dev/log (no syslog daemon): messages after mounting are lost "
      "unless one starts; use --log-file FILE (-o log_file=FILE) or -f to keep them");
  return MountLog(LogTarget::kNowhere, -1);
}

MountLog::MountLog(MountLog&& other) noexcept
    : target_(other.target_), fd_(std::exchange(other.fd_, -1)) {}

MountLog::~MountLog() {
  if (fd_ >= 0) close(fd_);
}

void MountLog::Activate() {
  switch (target_) {
    case LogTarget::kStderr:
      return;
    case LogTarget::kFile:
      // The stderr logger goes on writing to descriptor 2, which is now the file.
      if (dup2(fd_, STDERR_FILENO) < 0) {
        LogToSyslog();
      } else {
        close(fd_);  // descriptor 2 holds the file now
        fd_ = -1;
      }
      return;
    case LogTarget::kSyslog:
    case LogTarget::kNowhere:
      LogToSyslog();
      return;
  }
}

}  // namespace rangefs
