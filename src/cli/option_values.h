// What the mount's command line and `rangefs warm`'s share: sizes as they are typed, the
// request headers and files named on the command line, and the security options (headers,
// credentials, TLS, proxy), defined once for both parsers. (--disk-cache-min-free is read by
// ParseDiskMinFree, cli/options.h.)
//
// Thread-safety: functions of the parsing thread; they print usage errors to stderr.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "rangefs/header_file.h"

namespace CLI {
class App;
}

namespace rangefs {

// Seconds as options give them (fractions allowed), as the durations the layers take.
std::chrono::milliseconds Milliseconds(double seconds);

// "256M" for 268435456: defaults shown the way they are typed.
std::string HumanSize(uint64_t bytes);

// Defines --mirror (repeatable, into `mirror_urls`; EntriesOf in cli/command_entries.h reads
// them) and --spread on `app`.
void AddMirrorOptions(CLI::App& app, std::vector<std::string>& mirror_urls, bool& spread);

// Where the security options' values go. The referenced fields must outlive the parse.
struct SecurityOptionFields {
  std::vector<std::string>& header_lines;  // --header, checked by CollectHeaders
  std::vector<std::string>& header_files;  // --header-file, read by CollectHeaders
  std::string& netrc_file;
  bool& location_trusted;
  bool& allow_insecure_redirect;
  std::string& ca_file;
  bool& insecure;
  std::string& proxy;
};

// Defines --header, --header-file, --netrc-file, --location-trusted, --allow-insecure-redirect,
// --cacert, --insecure and --proxy on `app`.
void AddSecurityOptions(CLI::App& app, const SecurityOptionFields& fields);

// Where the options of one request's patience go (the mount's and warm's alike).
struct RequestOptionFields {
  double& connect_timeout_seconds;
  int& retries;
  double& stall_timeout_seconds;
  uint64_t& min_rate;
};

// Defines --connect-timeout, --retries, --stall-timeout and --min-rate on `app`.
void AddRequestOptions(CLI::App& app, const RequestOptionFields& fields);

// Defines --disk-cache-size (into `max_bytes`) and --disk-cache-min-free (its text into
// `min_free`, for ParseDiskMinFree) on `app`.
void AddDiskCacheBoundOptions(CLI::App& app, uint64_t& max_bytes, std::string& min_free);

// Turns --header and --header-file into headers; false (after printing why, never quoting a
// header's text) when one is malformed or a file cannot be read.
bool CollectHeaders(const std::vector<std::string>& lines, const std::vector<std::string>& files,
                    std::vector<HttpHeader>& headers);

// A file libcurl reads later (CA certificates, netrc) must be readable now: a typo is a usage
// error at start, not a TLS or authentication failure on the first request. Prints why not.
bool CheckReadable(const char* option, const std::string& path);

}  // namespace rangefs
