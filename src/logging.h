// Process-wide logging setup (spdlog's default logger). Everything logs through spdlog::info()
// and friends; only main() decides where the lines go.
#pragma once

namespace rangefs {

// Logs to stderr; debug level when `debug`.
void InitLogging(bool debug);

// Sends further log lines to syslog (the daemon has no terminal after daemonizing).
void LogToSyslog();

}  // namespace rangefs
