// What `rangefs --version` prints: rangefs's version, and the versions of the libraries it was
// built with and runs with (libfuse, libcurl with its TLS backend and HTTP/2 support, Boost).
#pragma once

#include <string>

namespace rangefs {

// Several lines, without a trailing newline.
std::string VersionText();

}  // namespace rangefs
