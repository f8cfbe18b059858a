// Keeping credentials out of logs and error messages.
//
// Every URL rangefs prints (log lines at any level, error messages, the proxy) goes through
// RedactUrl first. What is redacted: the password of a "user:password@" userinfo, and a
// userinfo without a password as a whole (it is usually a token). What is kept: scheme, user
// name, host, port, path, the query's parameter names and fragment. The values of query
// parameters that carry secrets in signed or token-bearing URLs are hidden too: names that
// contain "signature", "token", "credential", "secret", "password", "api_key" or
// "access_key", and "sig", "key", "auth", "code", "apikey" (S3's X-Amz-Signature and
// X-Amz-Credential, Azure's sig, Google's key).
//
// Thread-safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace rangefs {

// The URL with its userinfo redacted: "https://alice:s3cret@h/x" -> "https://alice:***@h/x",
// "https://TOKEN@h/x" -> "https://***@h/x". Anything else is returned unchanged. Also takes
// what is not a valid URL: a missing scheme ("alice:pw@h/x"), a "NAME=" prefix, or a password
// with an unencoded '/', '?', '#' or '@' in it still has everything up to the last '@' that
// could end a userinfo redacted (at worst more than the userinfo).
std::string RedactUrl(std::string_view url);

// `text` with every occurrence of each of `urls` replaced by its RedactUrl form: for messages
// that quote URLs (or operands such as "NAME=URL") inside other text.
std::string RedactUrlsIn(std::string_view text, std::span<const std::string> urls);

}  // namespace rangefs
