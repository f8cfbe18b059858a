#include "cli/option_values.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>

#include "rangefs/proxy_routes.h"

namespace rangefs {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// The whole file, or empty with `error` set to why it cannot be read.
std::optional<std::string> ReadWholeFile(const std::string& path, std::string& error) {
  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string contents;
  char buffer[4096];
  while (const size_t n = std::fread(buffer, 1, sizeof buffer, file.get())) {
    contents.append(buffer, n);
  }
  if (std::ferror(file.get())) {
    error = std::strerror(errno);  // EISDIR for a directory
    return std::nullopt;
  }
  return contents;
}

}  // namespace

// "256M" for 268435456: defaults shown the way they are typed.
std::string HumanSize(uint64_t bytes) {
  constexpr const char* kSuffixes[] = {"", "K", "M", "G", "T"};
  size_t suffix = 0;
  while (bytes >= 1024 && bytes % 1024 == 0 && suffix + 1 < std::size(kSuffixes)) {
    bytes /= 1024;
    ++suffix;
  }
  return std::to_string(bytes) + kSuffixes[suffix];
}

std::chrono::milliseconds Milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
}

void AddRequestOptions(CLI::App& app, const RequestOptionFields& fields) {
  app.add_option("--connect-timeout", fields.connect_timeout_seconds,
                 "Seconds to establish a connection (TCP and TLS)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--retries", fields.retries,
                 "Tries after the first for a request that failed in a way that may pass "
                 "(dropped connection, stall, 408, 429, 5xx); each resumes at the first missing "
                 "byte, after an exponential backoff with jitter or the server's Retry-After")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--stall-timeout", fields.stall_timeout_seconds,
                 "Seconds a response may send nothing before it is aborted and retried")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--min-rate", fields.min_rate,
                 "Bytes a second a response must average over every --stall-timeout, else it is "
                 "aborted and retried like a stall; 0: no minimum")
      ->transform(CLI::AsSizeValue(false))
      ->default_str(HumanSize(fields.min_rate));
}

void AddDiskCacheBoundOptions(CLI::App& app, uint64_t& max_bytes, std::string& min_free) {
  app.add_option("--disk-cache-size", max_bytes,
                 "Most bytes of blocks the cache directory keeps, all files and all processes "
                 "sharing it together; the least recently used go first")
      ->transform(CLI::AsSizeValue(false))
      ->default_str(HumanSize(max_bytes));
  app.add_option("--disk-cache-min-free", min_free,
                 "Free space the cache directory leaves on its filesystem, a size (2G) or a "
                 "percentage of the filesystem (5%); the cache evicts to keep it")
      ->type_name("SIZE|PERCENT")
      ->capture_default_str();
}

void AddMirrorOptions(CLI::App& app, std::vector<std::string>& mirror_urls, bool& spread) {
  app.add_option("--mirror", mirror_urls,
                 "Another address of the single URL: the same file, or for a directory URL "
                 "(ending in '/') the same tree, also ending in '/'; repeatable. Mirrors are "
                 "trusted to serve the same bytes (only the size is checked): one that serves "
                 "another size is dropped for that file. With several URLs or --url-file, write "
                 "URL1|URL2 or NAME=URL1|URL2 instead. Default: none")
      ->type_name("URL")
      ->allow_extra_args(false);
  app.add_flag("--spread", spread,
               "Spread a mirrored file's requests over all its working addresses (by the MiB "
               "each starts in), for aggregate speed. Default: off (the first address "
               "that works serves, the others take over when it fails)");
}

void AddSecurityOptions(CLI::App& app, const SecurityOptionFields& fields) {
  app.add_option("--header", fields.header_lines,
                 "Add this header to every request to the URL's origin (scheme, host and port), "
                 "e.g. 'Authorization: Bearer TOKEN'; repeatable. Default: none. The command "
                 "line is visible to other local users: keep secrets in --header-file")
      ->type_name("'NAME: VALUE'")
      ->allow_extra_args(false);
  app.add_option("--header-file", fields.header_files,
                 "Add the headers in FILE, one 'Name: value' a line (blank lines and lines "
                 "starting with # are skipped); repeatable. Default: none")
      ->type_name("FILE")
      ->allow_extra_args(false);
  app.add_option("--netrc-file", fields.netrc_file,
                 "Read user names and passwords by host from FILE (netrc format). "
                 "Default: ~/.netrc, when it exists")
      ->type_name("FILE");
  app.add_flag("--location-trusted", fields.location_trusted,
               "Send the headers, netrc and URL credentials also to other origins a redirect "
               "leads to. Default: off (only to the URL's own origin)");
  app.add_flag("--allow-insecure-redirect", fields.allow_insecure_redirect,
               "Follow a redirect from https to http. Default: off (such a redirect fails the "
               "mount)");
  app.add_option("--cacert", fields.ca_file,
                 "Verify servers with the CA certificates in FILE (PEM). Default: the system's "
                 "CA certificates")
      ->type_name("FILE");
  app.add_flag("--insecure", fields.insecure,
               "Do not verify TLS certificates and host names: anyone on the network path can "
               "then read and change the data. Default: off (verified)");
  app.add_option("--proxy", fields.proxy,
                 "Send requests through these proxies (http://[USER:PASSWORD@]HOST:PORT, "
                 "https://, socks5h://; DIRECT for none). A|B: a group that shares the load "
                 "(each file segment keeps to one member); A;B: groups in order of "
                 "preference, a later one used while the earlier ones fail. A proxy that "
                 "fails is left alone for 1 s, doubling up to 5 min. Default: the "
                 "http_proxy, https_proxy, all_proxy and no_proxy environment variables")
      ->type_name("LIST")
      ->check(CLI::Validator(
          [](const std::string& text) {
            Result<ProxyList> list = ParseProxyList(text);
            return list.ok() ? std::string() : list.status().message();
          },
          "", "PROXY-LIST"));
}

// Turns --header and --header-file into headers; false (after printing why, never quoting a
// header's text) when one is malformed or a file cannot be read.
bool CollectHeaders(const std::vector<std::string>& lines, const std::vector<std::string>& files,
                    std::vector<HttpHeader>& headers) {
  for (size_t i = 0; i < lines.size(); ++i) {
    Result<HttpHeader> header = ParseHeaderLine(lines[i]);
    if (!header.ok()) {
      std::cerr << "rangefs: --header number " << i + 1 << ": " << header.status().message()
                << "\n";
      return false;
    }
    headers.push_back(std::move(header).value());
  }
  for (const std::string& path : files) {
    std::string error;
    const std::optional<std::string> contents = ReadWholeFile(path, error);
    if (!contents) {
      std::cerr << "rangefs: --header-file " << path << ": " << error << "\n";
      return false;
    }
    Result<std::vector<HttpHeader>> parsed = ParseHeaderFile(*contents);
    if (!parsed.ok()) {
      std::cerr << "rangefs: --header-file " << path << ", " << parsed.status().message() << "\n";
      return false;
    }
    for (HttpHeader& header : *parsed) headers.push_back(std::move(header));
  }
  return true;
}

// A file libcurl reads later (CA certificates, netrc) must be readable now: a typo is a usage
// error at start, not a TLS or authentication failure on the first request.
bool CheckReadable(const char* option, const std::string& path) {
  if (path.empty()) return true;
  std::string error;
  if (ReadWholeFile(path, error)) return true;
  std::cerr << "rangefs: " << option << " " << path << ": " << error << "\n";
  return false;
}

}  // namespace rangefs
