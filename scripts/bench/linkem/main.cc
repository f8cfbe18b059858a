// rangefs_linkem: a TCP proxy on loopback that makes a loopback server look like a WAN link
// (one-way delay, per-connection and total bandwidth caps), for benchmarks of rangefs, curl
// and aria2c. See README.md next to this file.

#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "link_config.h"
#include "parse.h"
#include "proxy.h"

namespace rangefs::linkem {
namespace {

constexpr int kUsageExitCode = 2;
constexpr int kFailureExitCode = 1;
// Longer delays are typos (and 2 * rate * delay must fit the queue size arithmetic).
constexpr double kMaxDelayMs = 60'000;

struct CommandLine {
  std::string listen;
  std::string target;
  double delay_ms = 0;
  std::string conn_rate = "0";
  std::string total_rate = "0";
  std::string queue_limit = "0";
  std::string window = "0";
  std::string port_file;
  bool no_handshake = false;
  bool verbose = false;
};

CLI::Validator ByteCountValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return ParseByteCount(text) ? "" : "not a byte count: " + text + " (e.g. 1000, 50M, 64Ki)";
      },
      "BYTES[k|M|G|Ki|Mi|Gi]");
}

CLI::Validator LoopbackValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return ParseLoopbackEndpoint(text) ? "" : "not 127.x.y.z:PORT: " + text;
      },
      "127.x.y.z:PORT");
}

// Writes the file under a temporary name and renames it, so a reader polling for it never
// sees it half written.
bool WritePortFile(const std::string& path, uint16_t port) {
  const std::string temp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    out.close();
    if (!out) {
      std::remove(temp.c_str());
      return false;
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    return false;
  }
  return true;
}

// Many parallel benchmark connections take two descriptors each; the soft limit (often 1024)
// would be the first thing to run out.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int Run(int argc, char** argv) {
  CommandLine cli;
  CLI::App app(
      "A TCP proxy on loopback that emulates a WAN link: every byte is delivered --delay-ms "
      "after it arrived, in each direction, with optional bandwidth caps and a TCP window.",
      "rangefs_linkem");
  app.add_option("--listen", cli.listen, "Address to listen on; port 0 picks a free port")
      ->required()
      ->check(LoopbackValidator());
  app.add_option("--target", cli.target, "Server each connection is relayed to")
      ->required()
      ->check(LoopbackValidator());
  app.add_option("--delay-ms", cli.delay_ms, "One-way delay in milliseconds, each direction")
      ->check(CLI::Range(0.0, kMaxDelayMs))
      ->capture_default_str();
  app.add_option("--conn-rate", cli.conn_rate,
                 "Cap per connection and direction, bytes/s (50M = 50,000,000); 0 = none")
      ->check(ByteCountValidator())
      ->capture_default_str();
  app.add_option("--total-rate", cli.total_rate,
                 "Cap on all connections together, per direction, bytes/s; 0 = none")
      ->check(ByteCountValidator())
      ->capture_default_str();
  app.add_option("--queue-limit", cli.queue_limit,
                 "Bytes queued per connection and direction before reading pauses; 0 = "
                 "max(4 MiB, 2 * rate * delay)")
      ->check(ByteCountValidator())
      ->capture_default_str();
  app.add_option("--window", cli.window,
                 "TCP window per connection and direction: at most this many bytes in flight "
                 "per round trip, so one connection carries at most BYTES / (2 * delay); 0 = "
                 "none")
      ->check(ByteCountValidator())
      ->capture_default_str();
  app.add_option("--port-file", cli.port_file,
                 "Write the listening port here (atomically) once listening; removed on exit");
  app.add_flag("--no-handshake", cli.no_handshake,
               "Do not charge a new connection the extra round trip of a TCP handshake");
  app.add_flag("-v,--verbose", cli.verbose, "Log every connection to stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kUsageExitCode;
  }

  const std::optional<boost::asio::ip::tcp::endpoint> listen = ParseLoopbackEndpoint(cli.listen);
  LinkConfig config;
  config.target = *ParseLoopbackEndpoint(cli.target);
  config.delay = std::chrono::nanoseconds(static_cast<int64_t>(cli.delay_ms * 1e6));
  config.conn_rate = *ParseByteCount(cli.conn_rate);
  config.total_rate = *ParseByteCount(cli.total_rate);
  config.queue_limit = *ParseByteCount(cli.queue_limit);
  config.window = *ParseByteCount(cli.window);
  config.handshake = !cli.no_handshake;
  config.verbose = cli.verbose;

  // Writes to a peer that is gone must fail with EPIPE, not kill the proxy.
  std::signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit();

  // One thread: hint 1 lets Asio skip locking in its scheduler.
  boost::asio::io_context io(1);
  Proxy proxy(io, config);
  if (const boost::system::error_code ec = proxy.Listen(*listen)) {
    std::cerr << "rangefs_linkem: cannot listen on " << cli.listen << ": " << ec.message() << "\n";
    return kFailureExitCode;
  }
  const uint16_t port = proxy.port();
  if (!cli.port_file.empty() && !WritePortFile(cli.port_file, port)) {
    std::cerr << "rangefs_linkem: cannot write " << cli.port_file << ": " << std::strerror(errno)
              << "\n";
    return kFailureExitCode;
  }
  std::cout << port << std::endl;
  if (config.verbose) {
    std::clog << "linkem: 127.0.0.1:" << port << " -> " << config.target << ", delay "
              << cli.delay_ms << " ms, conn-rate " << config.conn_rate << " B/s, total-rate "
              << config.total_rate << " B/s, queue limit " << DerivedQueueLimit(config)
              << " B, window " << config.window << " B, handshake "
              << (config.handshake ? "on" : "off") << "\n";
  }

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    if (config.verbose) std::clog << "linkem: signal " << signal_number << ", exiting\n";
    proxy.Stop();
    io.stop();
  });
  proxy.Start();
  io.run();

  if (!cli.port_file.empty()) std::remove(cli.port_file.c_str());
  return 0;
}

}  // namespace
}  // namespace rangefs::linkem

int main(int argc, char** argv) { return rangefs::linkem::Run(argc, argv); }
