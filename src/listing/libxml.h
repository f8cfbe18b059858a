// libxml2 as the listing parsers use it: initialised once for the whole process (its parser
// keeps global state that xmlInitParser sets up, after which parsing is thread-safe), and the
// small conversions between its xmlChar strings and the standard library's.
//
// Thread-safety: InitLibxml may be called from any thread, any number of times.
#pragma once

#include <libxml/tree.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rangefs::listing {

// Calls xmlInitParser() once per process.
void InitLibxml();

struct XmlDocDeleter {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using XmlDoc = std::unique_ptr<xmlDoc, XmlDocDeleter>;

// The element's name ("a", "ListBucketResult"), or "" for a node that is no element.
std::string_view ElementName(const xmlNode* node);

// The value of an attribute the element has, without entity expansion: only its text children
// are read.
std::optional<std::string> Attribute(const xmlNode* node, const char* name);

// The text of an element's direct text and CDATA children. Entity references are never
// followed, so that no document can make this expand anything.
std::string DirectText(const xmlNode* node);

// The text of all text descendants, depth-first, stopping after `limit` bytes (titles and
// headings only need their start).
std::string DescendantText(const xmlNode* node, size_t limit);

// The next node of a depth-first walk of the tree under `root`, or nullptr at the end. Not
// recursive, so a deeply nested document cannot exhaust the stack.
const xmlNode* NextInTree(const xmlNode* node, const xmlNode* root);

}  // namespace rangefs::listing
