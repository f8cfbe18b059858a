#include "listing/json_listing.h"

#include <nlohmann/json.hpp>

#include "listing/listing_time.h"
#include "rangefs/imf_date.h"

namespace rangefs::listing {
namespace {

using Json = nlohmann::json;

Status NotAListing(std::string why) {
  return Status(ErrorCode::kProtocolViolation, "not a directory listing: " + std::move(why));
}

// The member `key` of `object` when it is a string. find() and the type checks keep every
// access free of nlohmann's exceptions.
const std::string* StringMember(const Json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

std::optional<uint64_t> SizeMember(const Json& object) {
  const auto it = object.find("size");
  if (it == object.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<uint64_t>();
}

enum class Dialect { kNginx, kCaddy };

std::string EntryLabel(size_t index) { return "entry " + std::to_string(index + 1); }

// One element of the array: an entry, or a line in the collector's skipped ones.
Status AddElement(const Json& element, size_t index, Dialect dialect, EntryCollector& collector) {
  if (!element.is_object()) {
    collector.Skip("skipped " + EntryLabel(index) + ": not a JSON object");
    return Status::Ok();
  }
  const std::string* name = StringMember(element, "name");
  if (name == nullptr) {
    collector.Skip("skipped " + EntryLabel(index) + ": no \"name\" string");
    return Status::Ok();
  }
  EntryFacts facts;
  bool is_directory = false;
  std::string_view raw_name = *name;
  if (dialect == Dialect::kNginx) {
    const std::string* type = StringMember(element, "type");
    if (type != nullptr && *type == "directory") {
      is_directory = true;
    } else if (type == nullptr || *type != "file") {
      // "other": a socket, a device, a dangling link; nothing rangefs can read.
      collector.Skip("skipped " + QuoteForLog(*name) + ": neither a file nor a directory");
      return Status::Ok();
    }
    if (const std::string* mtime = StringMember(element, "mtime")) {
      facts.mtime = ParseImfDate(*mtime);
    }
  } else {
    const auto is_dir = element.find("is_dir");
    if (is_dir == element.end() || !is_dir->is_boolean()) {
      collector.Skip("skipped " + QuoteForLog(*name) + ": no \"is_dir\" boolean");
      return Status::Ok();
    }
    is_directory = is_dir->get<bool>();
    // Caddy names a directory "sub/".
    if (is_directory && raw_name.ends_with('/')) raw_name.remove_suffix(1);
    if (const std::string* mtime = StringMember(element, "mod_time")) {
      facts.mtime = ParseRfc3339(*mtime);
    }
  }
  facts.size = SizeMember(element);
  return collector.AddNamed(raw_name, is_directory, facts);
}

}  // namespace

Result<std::string> ParseJsonListing(std::string_view body, EntryCollector& collector) {
  // No callback, no exceptions: a malformed body is a discarded value.
  const Json document = Json::parse(body.begin(), body.end(), nullptr, false);
  if (document.is_discarded()) return NotAListing("malformed JSON");
  if (!document.is_array()) return NotAListing("JSON that is not an array of entries");
  if (document.empty()) return std::string("json");
  // The first object says whose listing it is: Caddy's entries have "is_dir", nginx's "type".
  std::optional<Dialect> dialect;
  for (const Json& element : document) {
    if (!element.is_object()) continue;
    if (element.contains("is_dir")) dialect = Dialect::kCaddy;
    if (element.contains("type")) dialect = Dialect::kNginx;
    break;
  }
  if (!dialect) {
    return NotAListing("a JSON array whose first object has neither \"type\" nor \"is_dir\"");
  }
  size_t index = 0;
  for (const Json& element : document) {
    if (Status status = AddElement(element, index++, *dialect, collector); !status.ok()) {
      return status;
    }
  }
  return std::string(*dialect == Dialect::kNginx ? "nginx-json" : "caddy-json");
}

}  // namespace rangefs::listing
