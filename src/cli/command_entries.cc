#include "cli/command_entries.h"

#include <iterator>
#include <utility>

#include "cli/url_file.h"
#include "rangefs/redact.h"

namespace rangefs {
namespace {

// What an error about `operands` and `mirror_urls` may quote: each operand, the URLs after
// its "NAME=", and each URL between its '|'s.
std::vector<std::string> QuotableUrls(std::span<const std::string> operands,
                                      std::span<const std::string> mirror_urls) {
  std::vector<std::string> urls(mirror_urls.begin(), mirror_urls.end());
  for (const std::string& operand : operands) {
    // Whether the operand is NAME=URLS or plain URLS is the parser's to decide: quote both.
    std::vector<std::string_view> lists = {operand};
    if (const size_t equals = operand.find('='); equals != std::string::npos) {
      lists.push_back(std::string_view(operand).substr(equals + 1));
    }
    for (const std::string_view list : lists) {
      urls.emplace_back(list);
      for (const std::string_view url : SplitMirrorList(list)) urls.emplace_back(url);
    }
  }
  return urls;
}

// --mirror: more addresses of the single operand, `specs` (the operands' entries).
Status AddMirrorOption(std::span<const std::string> mirror_urls, bool has_url_file,
                       std::vector<MountSpec>& specs) {
  if (mirror_urls.empty()) return Status::Ok();
  if (specs.size() != 1 || has_url_file) {
    return Status(ErrorCode::kInvalidArgument,
                  "--mirror gives another address of the single URL; with several "
                  "URLs or --url-file, write NAME=URL1|URL2 (or URL1|URL2) instead");
  }
  for (const std::string& mirror : mirror_urls) {
    if (Status status = AddMirror(specs.front(), mirror, "--mirror"); !status.ok()) {
      return status;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<MountSpec>> EntriesOf(const EntryArguments& arguments) {
  const auto redacted = [&arguments](const Status& status) {
    return Status(
        status.code(),
        RedactUrlsIn(status.message(), QuotableUrls(arguments.operands, arguments.mirror_urls)));
  };
  Result<std::vector<MountSpec>> specs = std::vector<MountSpec>{};
  if (arguments.name.empty()) {
    specs = ParseMountSpecs(arguments.operands);
  } else if (arguments.operands.size() != 1) {
    return Status(ErrorCode::kInvalidArgument,
                  "--name (-o name=) names the file of a single URL; with several, write "
                  "NAME=URL");
  } else if (Result<MountSpec> spec =
                 ParseNamedMountSpec(arguments.name, arguments.operands.front());
             spec.ok()) {
    specs->push_back(std::move(spec).value());
  } else {
    return redacted(spec.status());
  }
  if (!specs.ok()) return redacted(specs.status());
  if (Status status = AddMirrorOption(arguments.mirror_urls, !arguments.url_file.empty(), *specs);
      !status.ok()) {
    return redacted(status);
  }
  if (!arguments.url_file.empty()) {
    // ParseUrlFile redacts what it quotes of the file; an operand it names is redacted here.
    Result<std::vector<MountSpec>> listed = ReadUrlFile(arguments.url_file, *specs);
    if (!listed.ok()) return redacted(listed.status());
    specs->insert(specs->end(), std::make_move_iterator(listed->begin()),
                  std::make_move_iterator(listed->end()));
  }
  return specs;
}

MirrorMap MirrorMapFrom(std::span<const MountSpec> specs) {
  MirrorMap map;
  for (const MountSpec& spec : specs) {
    for (const std::string& mirror : spec.mirrors) map.Add(spec.url, mirror);
  }
  return map;
}

}  // namespace rangefs
