#include "listing/s3_listing.h"

#include <string_view>
#include <vector>

#include "listing/libxml.h"
#include "listing/listing_time.h"

namespace rangefs::listing {
namespace {

const xmlNode* ChildElement(const xmlNode* parent, std::string_view name) {
  for (const xmlNode* node = parent->children; node != nullptr; node = node->next) {
    if (ElementName(node) == name) return node;
  }
  return nullptr;
}

std::string ChildText(const xmlNode* parent, std::string_view name) {
  const xmlNode* child = ChildElement(parent, name);
  return child == nullptr ? std::string() : DirectText(child);
}

std::vector<std::string_view> SplitQuery(std::string_view query) {
  std::vector<std::string_view> parts;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    parts.push_back(query.substr(0, amp));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return parts;
}

// A query value as S3 reads it: form-encoded, '+' a space.
std::string DecodeQueryValue(std::string_view value) {
  std::string plus_decoded(value);
  for (char& c : plus_decoded) {
    if (c == '+') c = ' ';
  }
  return PercentDecode(plus_decoded);
}

std::string ParamName(std::string_view part) {
  return DecodeQueryValue(part.substr(0, part.find('=')));
}

std::string ParamValue(std::string_view part) {
  const size_t equals = part.find('=');
  return equals == std::string_view::npos ? std::string()
                                          : DecodeQueryValue(part.substr(equals + 1));
}

// The directory's prefix parameter, decoded; "" when it has none.
std::string DirectoryPrefix(const DirectoryUrl& directory) {
  for (const std::string_view part : SplitQuery(directory.query())) {
    if (ParamName(part) == "prefix") return ParamValue(part);
  }
  return "";
}

// The directory's list URL with prefix replaced (when given) and continuation-token set (when
// given) or dropped; every other parameter kept as it was written, in its place.
std::string ListUrl(const DirectoryUrl& directory, const std::string* prefix,
                    const std::string* token) {
  std::string query;
  const auto append = [&query](std::string_view part) {
    if (!query.empty()) query += '&';
    query += part;
  };
  bool prefix_written = prefix == nullptr;
  for (const std::string_view part : SplitQuery(directory.query())) {
    const std::string name = ParamName(part);
    if (part.empty() || name == "continuation-token") continue;
    if (name == "prefix" && prefix != nullptr) {
      if (!prefix_written) append("prefix=" + PercentEncode(*prefix, /*keep_slash=*/true));
      prefix_written = true;
      continue;
    }
    append(part);
  }
  if (!prefix_written) append("prefix=" + PercentEncode(*prefix, /*keep_slash=*/true));
  if (token != nullptr) append("continuation-token=" + PercentEncode(*token));
  return directory.without_query() + "?" + query;
}

Status AddObject(const xmlNode* contents, const std::string& prefix, const DirectoryUrl& directory,
                 EntryCollector& collector) {
  const std::string key = ChildText(contents, "Key");
  if (key == prefix) return Status::Ok();  // the directory's own marker object
  if (!key.starts_with(prefix)) {
    collector.Skip("skipped the key " + QuoteForLog(key) + ": outside the prefix");
    return Status::Ok();
  }
  EntryFacts facts;
  facts.size = ParseDecimalSize(ChildText(contents, "Size"));
  facts.mtime = ParseRfc3339(ChildText(contents, "LastModified"));
  return collector.Add(key.substr(prefix.size()),
                       directory.base() + PercentEncode(key, /*keep_slash=*/true),
                       /*is_directory=*/false, facts);
}

Status AddCommonPrefix(const xmlNode* common, const std::string& prefix,
                       const DirectoryUrl& directory, EntryCollector& collector) {
  const std::string sub_prefix = ChildText(common, "Prefix");
  if (!sub_prefix.starts_with(prefix) || !sub_prefix.ends_with('/')) {
    collector.Skip("skipped the common prefix " + QuoteForLog(sub_prefix) +
                   ": not under the prefix, or not ending in the delimiter '/'");
    return Status::Ok();
  }
  std::string name = sub_prefix.substr(prefix.size());
  name.pop_back();
  return collector.Add(std::move(name), ListUrl(directory, &sub_prefix, nullptr),
                       /*is_directory=*/true, EntryFacts{});
}

}  // namespace

Result<std::optional<std::string>> ParseS3ListBucketResult(const xmlNode* root,
                                                           const DirectoryUrl& directory,
                                                           EntryCollector& collector) {
  if (!ChildText(root, "EncodingType").empty()) {
    return Status(ErrorCode::kProtocolViolation,
                  "not a directory listing rangefs reads: an S3 listing with EncodingType");
  }
  const std::string prefix = DirectoryPrefix(directory);
  bool truncated = false;
  std::string token;
  for (const xmlNode* node = root->children; node != nullptr; node = node->next) {
    const std::string_view name = ElementName(node);
    Status status;
    if (name == "Contents") {
      status = AddObject(node, prefix, directory, collector);
    } else if (name == "CommonPrefixes") {
      status = AddCommonPrefix(node, prefix, directory, collector);
    } else if (name == "IsTruncated") {
      truncated = DirectText(node) == "true";
    } else if (name == "NextContinuationToken") {
      token = DirectText(node);
    }
    if (!status.ok()) return status;
  }
  if (!truncated) return std::optional<std::string>();
  if (token.empty()) {
    return Status(ErrorCode::kProtocolViolation,
                  "not a directory listing rangefs reads: a truncated S3 listing without "
                  "NextContinuationToken");
  }
  return std::optional<std::string>(ListUrl(directory, nullptr, &token));
}

}  // namespace rangefs::listing
