#include "cli/mount_entries.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>

#include "rangefs/redact.h"

namespace rangefs {
namespace {

// "https://h/pub?x" -> "https://h/pub/?x".
std::string WithSlashAfterPath(std::string_view url) {
  const size_t end = std::min(url.find_first_of("?#"), url.size());
  return std::string(url.substr(0, end)) + "/" + std::string(url.substr(end));
}

void WarnIfRangesIgnored(const MountSpec& spec, const RemoteFileInfo& info,
                         uint64_t max_full_fetch) {
  if (info.ranges_supported) return;
  if (info.size <= max_full_fetch) {
    spdlog::warn(
        "{}: the server ignores Range requests; the file will be downloaded whole when it is "
        "first read",
        RedactUrl(spec.url));
  } else {
    spdlog::warn(
        "{}: the server ignores Range requests and the file is larger than --max-full-fetch: "
        "its reads will fail with EIO",
        RedactUrl(spec.url));
  }
}

// Probes or lists one spec.
Result<PreparedEntry> Prepare(RangeSource& source, DirectoryLister& lister, MountSpec spec) {
  PreparedEntry entry{.spec = std::move(spec), .info = std::nullopt, .listing = std::nullopt};
  if (entry.spec.kind == SpecKind::kFile) {
    Result<RemoteFileInfo> info = source.Probe(entry.spec.url);
    if (!info.ok()) {
      // "https://host/pub" redirected to a listing sent without a length (nginx's chunked
      // autoindex): no file, but maybe the directory at "https://host/pub/". (A file spec's
      // own path never ends in '/': that would have made it a directory spec.)
      if (info.status().code() != ErrorCode::kProtocolViolation) return info.status();
      const std::string directory_url = WithSlashAfterPath(entry.spec.url);
      Result<Listing> listing = lister.List(directory_url);
      if (!listing.ok()) return info.status();
      spdlog::info("{}: a directory (listed at {})", RedactUrl(entry.spec.url),
                   RedactUrl(directory_url));
      entry.spec.kind = SpecKind::kDirectory;
      entry.spec.url = directory_url;
      entry.listing = std::move(listing).value();
      return entry;
    }
    const Result<SpecKind> answered_from = KindOfUrl(info->final_url);
    if (!answered_from.ok() || *answered_from != SpecKind::kDirectory) {
      entry.info = std::move(info).value();
      return entry;
    }
    // "https://host/pub" answered from "https://host/pub/": a directory.
    spdlog::info("{}: a directory (the server answers from {})", RedactUrl(entry.spec.url),
                 RedactUrl(info->final_url));
    entry.spec.kind = SpecKind::kDirectory;
    entry.spec.url = info->final_url;
  }
  Result<Listing> listing = lister.List(entry.spec.url);
  if (!listing.ok()) return listing.status();
  spdlog::info("{}: listed as {}, {} entries", RedactUrl(entry.spec.url), listing->format,
               listing->entries.size());
  entry.listing = std::move(listing).value();
  return entry;
}

}  // namespace

std::optional<std::vector<PreparedEntry>> PrepareEntries(RangeSource& source,
                                                         DirectoryLister& lister,
                                                         std::vector<MountSpec> specs,
                                                         uint64_t max_full_fetch) {
  std::vector<std::future<Result<PreparedEntry>>> pending;
  std::vector<PreparedEntry> entries(specs.size());
  std::vector<size_t> pending_index;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!specs[i].probe_at_mount) {
      entries[i].spec = std::move(specs[i]);
      continue;
    }
    pending_index.push_back(i);
    pending.push_back(std::async(std::launch::async, [&source, &lister, spec = specs[i]] {
      return Prepare(source, lister, spec);
    }));
  }
  bool all_ok = true;
  for (size_t k = 0; k < pending.size(); ++k) {
    const size_t i = pending_index[k];
    Result<PreparedEntry> prepared = pending[k].get();
    if (!prepared.ok()) {
      std::cerr << "rangefs: cannot mount " << RedactUrl(specs[i].url) << ": "
                << RedactUrlsIn(prepared.status().message(), {&specs[i].url, 1}) << "\n";
      all_ok = false;
      continue;
    }
    if (prepared->info) WarnIfRangesIgnored(prepared->spec, *prepared->info, max_full_fetch);
    entries[i] = std::move(prepared).value();
  }
  if (!all_ok) return std::nullopt;
  return entries;
}

Status AddEntries(Filesystem& filesystem, std::vector<PreparedEntry> entries) {
  if (entries.size() == 1 && entries.front().spec.kind == SpecKind::kDirectory &&
      entries.front().spec.probe_at_mount) {
    PreparedEntry& only = entries.front();
    return filesystem.AddDirectory("", std::move(only.spec.url), std::move(only.listing));
  }
  for (PreparedEntry& entry : entries) {
    Status added;
    if (entry.spec.kind == SpecKind::kDirectory) {
      added = filesystem.AddDirectory(entry.spec.name, std::move(entry.spec.url),
                                      std::move(entry.listing));
    } else if (entry.info) {
      added = filesystem.AddFile({std::move(entry.spec.name), std::move(*entry.info)});
    } else {
      added = filesystem.AddUnprobedFile(entry.spec.name, std::move(entry.spec.url));
    }
    if (!added.ok()) return added;
  }
  return Status();
}

}  // namespace rangefs
