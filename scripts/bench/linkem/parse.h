// Parsers for rangefs_linkem's command line values. Pure functions, thread-safe.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rangefs::linkem {

// Parses a byte count or byte rate: a non-negative decimal number ("1000", "2.5") with an
// optional suffix, decimal k/K/M/G/T (50M = 50,000,000, as link speeds are quoted) or binary
// Ki/Mi/Gi/Ti (64Ki = 65,536). The result is rounded to a whole number of bytes. nullopt for
// anything else (signs, exponents, spaces, unknown suffixes, values above 2^62).
std::optional<uint64_t> ParseByteCount(std::string_view text);

// Parses "A.B.C.D:PORT" where A.B.C.D is in 127.0.0.0/8 (the tool must never touch a real
// network) and PORT is 0..65535. nullopt for anything else, names like "localhost" included.
std::optional<boost::asio::ip::tcp::endpoint> ParseLoopbackEndpoint(std::string_view text);

}  // namespace rangefs::linkem
