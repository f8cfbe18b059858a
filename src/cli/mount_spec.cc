#include "cli/mount_spec.h"

#include <curl/curl.h>

#include <memory>
#include <set>

namespace rangefs {
namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlFreeDeleter {
  void operator()(char* text) const { curl_free(text); }
};
using CurlString = std::unique_ptr<char, CurlFreeDeleter>;

Status BadUrl(std::string_view url, std::string_view why) {
  return Status(ErrorCode::kInvalidArgument, std::string(url) + ": " + std::string(why));
}

Status CheckFileName(std::string_view name, std::string_view culprit) {
  if (name.empty()) return BadUrl(culprit, "empty file name");
  if (name == "." || name == "..") return BadUrl(culprit, "file name may not be \".\" or \"..\"");
  if (name.find('/') != std::string_view::npos) return BadUrl(culprit, "file name contains '/'");
  if (name.find('\0') != std::string_view::npos) return BadUrl(culprit, "file name contains NUL");
  return Status::Ok();
}

// The URL parser is libcurl's, so what is accepted here is what the HTTP engine accepts later.
Result<std::string> EncodedPath(std::string_view url) {
  std::unique_ptr<CURLU, CurlUrlDeleter> handle(curl_url());
  if (!handle) return Status(ErrorCode::kInternal, "out of memory");
  const std::string text(url);
  if (text.find('\0') != std::string::npos) return BadUrl(url, "contains NUL");
  if (const CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0); rc) {
    return BadUrl(url, curl_url_strerror(rc));
  }
  char* raw = nullptr;
  if (curl_url_get(handle.get(), CURLUPART_SCHEME, &raw, 0) != CURLUE_OK) {
    return BadUrl(url, "no scheme");
  }
  const CurlString scheme(raw);
  const std::string_view scheme_text(scheme.get());
  if (scheme_text != "http" && scheme_text != "https") {
    return BadUrl(url, "only http and https URLs are supported");
  }
  if (curl_url_get(handle.get(), CURLUPART_PATH, &raw, 0) != CURLUE_OK) {
    return BadUrl(url, "no path");
  }
  const CurlString path(raw);
  return std::string(path.get());
}

}  // namespace

Result<std::string> FileNameFromUrl(std::string_view url) {
  Result<std::string> path = EncodedPath(url);
  if (!path.ok()) return path.status();
  const size_t slash = path->rfind('/');
  const std::string encoded = slash == std::string::npos ? *path : path->substr(slash + 1);
  if (encoded.empty()) return BadUrl(url, "no file name at the end of the URL path");

  int decoded_length = 0;
  const CurlString decoded(curl_easy_unescape(nullptr, encoded.data(),
                                              static_cast<int>(encoded.size()), &decoded_length));
  if (!decoded) return Status(ErrorCode::kInternal, "out of memory");
  std::string name(decoded.get(), static_cast<size_t>(decoded_length));
  if (Status status = CheckFileName(name, url); !status.ok()) return status;
  return name;
}

// NAME and URL given apart: NAME must be a valid file name (`context` says where it came from)
// and URL must have a path.
Result<MountSpec> NamedSpec(std::string_view name, std::string_view url, std::string_view context) {
  if (Status status = CheckFileName(name, context); !status.ok()) return status;
  if (Result<std::string> path = EncodedPath(url); !path.ok()) return path.status();
  return MountSpec{std::string(name), std::string(url)};
}

Result<MountSpec> ParseMountSpec(std::string_view operand) {
  const size_t equals = operand.find('=');
  if (equals != std::string_view::npos) {
    const std::string_view name = operand.substr(0, equals);
    if (name.find_first_of(":/") == std::string_view::npos) {
      return NamedSpec(name, operand.substr(equals + 1), operand);
    }
  }
  Result<std::string> name = FileNameFromUrl(operand);
  if (!name.ok()) return name.status();
  return MountSpec{std::move(name).value(), std::string(operand)};
}

Result<MountSpec> ParseNamedMountSpec(std::string_view name, std::string_view url) {
  return NamedSpec(name, url, "--name " + std::string(name));
}

Result<std::vector<MountSpec>> ParseMountSpecs(std::span<const std::string> operands) {
  std::vector<MountSpec> specs;
  std::set<std::string, std::less<>> names;
  for (const std::string& operand : operands) {
    Result<MountSpec> spec = ParseMountSpec(operand);
    if (!spec.ok()) return spec.status();
    if (!names.insert(spec->name).second) {
      return Status(ErrorCode::kInvalidArgument,
                    operand + ": another URL already has the file name \"" + spec->name + "\"");
    }
    specs.push_back(std::move(spec).value());
  }
  return specs;
}

}  // namespace rangefs
