#include "disk/cache_directory.h"

#include <xxhash.h>

#include <array>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <span>

namespace rangefs::disk {
std::string FileHashOf(const FileKey& key) {
  const std::string name = key.ToString();
  const XXH128_hash_t hash = XXH3_128bits(name.data(), name.size());
  std::array<char, 33> hex{};
  std::snprintf(hex.data(), hex.size(), "%016" PRIx64 "%016" PRIx64, uint64_t{hash.high64},
                uint64_t{hash.low64});
  return std::string(hex.data(), 32);
}

std::string BlockPathOf(const std::string& directory, const std::string& file_hash,
                        uint64_t index) {
  return directory + "/blocks/" + file_hash.substr(0, 2) + "/" + file_hash + "-" +
         std::to_string(index);
}

std::string TempDirOf(const std::string& directory) { return directory + "/tmp"; }

std::string IndexPathOf(const std::string& directory) { return directory + "/index.sqlite"; }

Result<CacheAccess> PrepareCacheDirectory(CacheFiles& files, const std::string& directory) {
  auto failed = [&](std::string_view what, const Status& status) {
    return Status(ErrorCode::kInvalidArgument,
                  directory + ": " + std::string(what) + ": " + status.message());
  };
  if (Status s = files.MakeDirectories(directory); !s.ok()) return failed("cannot create", s);
  const std::string format_path = directory + "/format";
  Result<std::string> format = files.ReadSmallFile(format_path);
  if (!format.ok() && format.status().code() != ErrorCode::kNotFound) {
    return failed("cannot read its format file", format.status());
  }
  if (format.ok() && *format != kFormatLine) {
    std::string found = format->substr(0, format->find('\n'));
    return Status(ErrorCode::kInvalidArgument,
                  directory + ": a cache of another format (\"" + found.substr(0, 80) +
                      "\"); this rangefs uses \"" +
                      std::string(kFormatLine.substr(0, kFormatLine.size() - 1)) +
                      "\": choose another --cache-dir or empty this one");
  }
  if (format.ok()) {
    const std::string index = IndexPathOf(directory);
    if (!files.Writable(directory) || (files.Exists(index) && !files.Writable(index))) {
      return CacheAccess::kReadOnly;
    }
  } else {
    Result<std::vector<std::string>> names = files.List(directory);
    if (!names.ok()) return failed("cannot list", names.status());
    for (const std::string& name : *names) {
      // Another process writing the format file of the same fresh directory at once.
      if (IsTempFileName(name)) continue;
      return Status(ErrorCode::kInvalidArgument,
                    directory +
                        ": not a rangefs cache directory (not empty, and no format file): "
                        "choose an empty or new directory");
    }
    const auto line = std::as_bytes(std::span(kFormatLine.data(), kFormatLine.size()));
    const std::array<std::span<const std::byte>, 1> parts = {line};
    // Through a temporary file in DIR itself (a named one where O_TMPFILE is missing, which a
    // process opening the directory at the same time skips above): both write the same bytes.
    if (Status s = files.WriteAtomically(directory, format_path, parts); !s.ok()) {
      return failed("cannot write its format file", s);
    }
  }
  for (const char* sub : {"/blocks", "/tmp"}) {
    if (Status s = files.MakeDirectories(directory + sub); !s.ok()) {
      return failed("cannot create", s);
    }
  }
  // A crash leaves the named temporary files of its writes (O_TMPFILE ones vanish by
  // themselves): remove those of processes that are gone.
  if (Result<std::vector<std::string>> temps = files.List(TempDirOf(directory)); temps.ok()) {
    for (const std::string& name : *temps) {
      if (IsOrphanTempFile(name)) (void)files.Remove(TempDirOf(directory) + "/" + name);
    }
  }
  return CacheAccess::kReadWrite;
}

}  // namespace rangefs::disk
