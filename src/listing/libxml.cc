#include "listing/libxml.h"

#include <libxml/parser.h>

#include <mutex>

namespace rangefs::listing {
namespace {

std::string_view AsView(const xmlChar* text) {
  if (text == nullptr) return {};
  return reinterpret_cast<const char*>(text);
}

}  // namespace

void InitLibxml() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

std::string_view ElementName(const xmlNode* node) {
  if (node == nullptr || node->type != XML_ELEMENT_NODE) return {};
  return AsView(node->name);
}

std::optional<std::string> Attribute(const xmlNode* node, const char* name) {
  if (node == nullptr || node->type != XML_ELEMENT_NODE) return std::nullopt;
  for (const xmlAttr* attribute = node->properties; attribute != nullptr;
       attribute = attribute->next) {
    if (AsView(attribute->name) != name) continue;
    std::string value;
    for (const xmlNode* child = attribute->children; child != nullptr; child = child->next) {
      if (child->type == XML_TEXT_NODE) value += AsView(child->content);
    }
    return value;
  }
  return std::nullopt;
}

std::string DirectText(const xmlNode* node) {
  std::string text;
  for (const xmlNode* child = node->children; child != nullptr; child = child->next) {
    if (child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) {
      text += AsView(child->content);
    }
  }
  return text;
}

std::string DescendantText(const xmlNode* node, size_t limit) {
  std::string text;
  for (const xmlNode* at = node->children; at != nullptr && text.size() < limit;
       at = NextInTree(at, node)) {
    if (at->type == XML_TEXT_NODE) text += AsView(at->content);
  }
  if (text.size() > limit) text.resize(limit);
  return text;
}

const xmlNode* NextInTree(const xmlNode* node, const xmlNode* root) {
  // Entity references' children are the entity's own nodes: never walked into.
  if (node->type == XML_ELEMENT_NODE && node->children != nullptr) return node->children;
  while (node != nullptr && node != root) {
    if (node->next != nullptr) return node->next;
    node = node->parent;
  }
  return nullptr;
}

}  // namespace rangefs::listing
