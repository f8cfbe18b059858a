#include "cli/version.h"

#include <curl/curl.h>
#include <fuse3/fuse_lowlevel.h>

#include <boost/version.hpp>
#include <string_view>

namespace rangefs {
namespace {

std::string Text(const char* text) { return text ? text : "none"; }

// BOOST_LIB_VERSION is "1_74"; people write 1.74.
std::string DottedBoostVersion() {
  return std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) +
         "." + std::to_string(BOOST_VERSION % 100);
}

std::string CurlLine() {
  // Runtime: the libcurl actually loaded, which a distribution update may change.
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  std::string line = "libcurl " + Text(info->version) + " (built with " LIBCURL_VERSION ")";
  line += ", TLS " + Text(info->ssl_version);
  line += ", HTTP/2 ";
  if ((info->features & CURL_VERSION_HTTP2) != 0) {
    line += "yes";
    if (info->age >= CURLVERSION_FIFTH && info->nghttp2_version) {
      line += " (nghttp2 " + std::string(info->nghttp2_version) + ")";
    }
  } else {
    line += "no";
  }
  return line;
}

}  // namespace

std::string VersionText() {
  std::string text = "rangefs " RANGEFS_VERSION "\n";
  // fuse_pkgversion() is the libfuse loaded at run time; the macros are the headers built with.
  text += "libfuse " + Text(fuse_pkgversion()) + " (built with " +
          std::to_string(FUSE_MAJOR_VERSION) + "." + std::to_string(FUSE_MINOR_VERSION) + ", API " +
          std::to_string(FUSE_USE_VERSION) + ")\n";
  text += CurlLine() + "\n";
  // Header-only: what it was built with is all there is.
  text += "Boost " + DottedBoostVersion() + " (built with; header-only)";
  return text;
}

}  // namespace rangefs
