#include "options.h"

#include <curl/curl.h>
#include <fuse3/fuse_lowlevel.h>

#include <CLI/CLI.hpp>
#include <iostream>

namespace rangefs {
namespace {

constexpr int kUsageExitCode = 2;

std::string VersionText() {
  std::string text = "rangefs " RANGEFS_VERSION "\n";
  text += std::string("libfuse ") + fuse_pkgversion() + "\n";
  text += curl_version();
  return text;
}

}  // namespace

CommandLine ParseCommandLine(int argc, char** argv) {
  Options options;
  CLI::App app("Mount remote HTTP(S) files as local read-only files, read with Range requests.",
               "rangefs");
  app.footer(
      "Each URL becomes one read-only file in MOUNTPOINT, named after the last segment of its\n"
      "path (percent-decoded) or NAME. rangefs probes every URL before mounting and exits\n"
      "non-zero, mounting nothing, if one cannot be read. Unmount with: fusermount3 -u "
      "MOUNTPOINT");
  app.set_version_flag("--version", VersionText(), "Print versions of rangefs and its libraries");

  std::vector<std::string> positionals;
  app.add_option("operands", positionals, "URL|NAME=URL... MOUNTPOINT")->required()->expected(-2);
  app.add_flag("-f,--foreground", options.foreground,
               "Stay in the foreground instead of daemonizing once mounted");
  app.add_flag("-d,--debug", options.debug,
               "Foreground with debug logging (every request) and FUSE debug output");
  app.add_option("-o", options.fuse_options,
                 "FUSE mount options, comma-separated (allow_other, ...); repeatable")
      ->type_name("OPT[,OPT...]")
      ->allow_extra_args(false);
  app.add_option("--timeout", options.timeout_seconds,
                 "Seconds one HTTP request may take before the read fails with EIO")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--connect-timeout", options.connect_timeout_seconds,
                 "Seconds to establish a connection (TCP and TLS)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return {std::nullopt, app.exit(e)};
  } catch (const CLI::CallForVersion& e) {
    return {std::nullopt, app.exit(e)};
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return {std::nullopt, kUsageExitCode};
  }
  if (positionals.size() < 2) {
    std::cerr << "rangefs: need at least one URL and a MOUNTPOINT (see rangefs --help)\n";
    return {std::nullopt, kUsageExitCode};
  }
  options.mountpoint = positionals.back();
  positionals.pop_back();
  options.operands = std::move(positionals);
  if (options.debug) options.foreground = true;
  return {std::move(options), 0};
}

}  // namespace rangefs
