#include "logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

namespace rangefs {

void InitLogging(bool debug) {
  auto logger = spdlog::stderr_logger_mt("rangefs");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e rangefs %l: %v");
  logger->set_level(debug ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

void LogToSyslog() {
  const spdlog::level::level_enum level = spdlog::default_logger()->level();
  auto logger = spdlog::syslog_logger_mt("rangefs-syslog", "rangefs", LOG_PID, LOG_DAEMON);
  logger->set_pattern("%l: %v");
  logger->set_level(level);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace rangefs
