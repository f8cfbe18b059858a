#include "listing/xml_listing.h"

#include <libxml/parser.h>

#include <climits>

#include "listing/libxml.h"
#include "listing/listing_time.h"
#include "listing/s3_listing.h"

namespace rangefs::listing {
namespace {

Status NotAListing(std::string why) {
  return Status(ErrorCode::kProtocolViolation, "not a directory listing: " + std::move(why));
}

// nginx: <list><directory mtime="...">name</directory><file mtime="..." size="N">name</file>
// <other ...>name</other></list>, names raw (XML-escaped).
Status ParseNginxList(const xmlNode* list, EntryCollector& collector) {
  for (const xmlNode* node = list->children; node != nullptr; node = node->next) {
    const std::string_view kind = ElementName(node);
    if (kind.empty()) continue;
    const std::string name = DirectText(node);
    if (kind != "file" && kind != "directory") {
      collector.Skip("skipped " + QuoteForLog(name) + ": neither a file nor a directory");
      continue;
    }
    EntryFacts facts;
    if (const std::optional<std::string> mtime = Attribute(node, "mtime")) {
      facts.mtime = ParseRfc3339(*mtime);
    }
    if (const std::optional<std::string> size = Attribute(node, "size")) {
      facts.size = ParseDecimalSize(*size);
    }
    if (Status status = collector.AddNamed(name, kind == "directory", facts); !status.ok()) {
      return status;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<XmlListing> ParseXmlListing(std::string_view body, const DirectoryUrl& directory,
                                   EntryCollector& collector) {
  InitLibxml();
  if (body.size() > INT_MAX) {
    return Status(ErrorCode::kLimitExceeded, "the listing page is larger than 2 GiB");
  }
  // No network, no external DTD, no entity substitution (XML_PARSE_NOENT) and no lifting of
  // libxml2's size limits (XML_PARSE_HUGE): what an entity could expand to stays unexpanded.
  const XmlDoc doc(xmlReadMemory(body.data(), static_cast<int>(body.size()), nullptr, nullptr,
                                 XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) return NotAListing("malformed XML");
  if (doc->intSubset != nullptr || doc->extSubset != nullptr) {
    return NotAListing("an XML document with a DTD");
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  const std::string_view name = ElementName(root);
  if (name == "list") {
    if (Status status = ParseNginxList(root, collector); !status.ok()) return status;
    return XmlListing{"nginx-xml", std::nullopt};
  }
  if (name == "ListBucketResult") {
    Result<std::optional<std::string>> next = ParseS3ListBucketResult(root, directory, collector);
    if (!next.ok()) return next.status();
    return XmlListing{"s3-list-v2", std::move(*next)};
  }
  return NotAListing("an XML document whose root is neither <list> nor <ListBucketResult>");
}

}  // namespace rangefs::listing
