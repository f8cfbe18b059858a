#include "listing/entry_collector.h"

#include <utility>

namespace rangefs::listing {
namespace {

// Why a name cannot be an entry's, or nullptr when it can.
const char* InvalidNameReason(std::string_view name) {
  if (name.empty()) return "an empty name";
  if (name == "." || name == "..") return "a dot name";
  if (name.find('/') != std::string_view::npos) return "a name with '/'";
  if (name.find('\0') != std::string_view::npos) return "a name with NUL";
  return nullptr;
}

}  // namespace

std::optional<uint64_t> ParseDecimalSize(std::string_view digits) {
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

std::string QuoteForLog(std::string_view text) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out + "\"";
}

Status EntryCollector::AddLink(const ChildLink& link, const EntryFacts& facts) {
  std::string url = directory_.base() + link.segment;
  if (link.is_directory) url += '/';
  return Add(PercentDecode(link.segment), std::move(url), link.is_directory, facts);
}

Status EntryCollector::AddNamed(std::string_view name, bool is_directory, const EntryFacts& facts) {
  std::string url = directory_.base() + PercentEncode(name);
  if (is_directory) url += '/';
  return Add(std::string(name), std::move(url), is_directory, facts);
}

Status EntryCollector::Add(std::string name, std::string url, bool is_directory,
                           const EntryFacts& facts) {
  if (const char* reason = InvalidNameReason(name)) {
    Skip(std::string("skipped ") + reason + " " + QuoteForLog(name));
    return Status::Ok();
  }
  if (!names_.insert(name).second) {
    Skip("skipped a duplicate of " + QuoteForLog(name) + " (the first one is kept)");
    return Status::Ok();
  }
  if (entries_.size() >= limits_.max_entries) {
    return Status(ErrorCode::kLimitExceeded, "the listing has more than " +
                                                 std::to_string(limits_.max_entries) +
                                                 " entries (the limit of entries per directory)");
  }
  ListedEntry entry;
  entry.name = std::move(name);
  entry.url = std::move(url);
  entry.is_directory = is_directory;
  if (!is_directory) entry.size = facts.size;
  entry.mtime = facts.mtime;
  entries_.push_back(std::move(entry));
  return Status::Ok();
}

void EntryCollector::Skip(std::string line) {
  if (skipped_.size() < kMaxSkippedLines) {
    skipped_.push_back(std::move(line));
  } else {
    ++skipped_unlisted_;
  }
}

ParsedPage EntryCollector::Finish(std::string format, std::optional<std::string> next_page_url) && {
  ParsedPage page;
  page.listing.entries = std::move(entries_);
  page.listing.format = std::move(format);
  page.next_page_url = std::move(next_page_url);
  page.skipped = std::move(skipped_);
  if (skipped_unlisted_ > 0) {
    page.skipped.push_back("and " + std::to_string(skipped_unlisted_) + " more skipped entries");
  }
  return page;
}

}  // namespace rangefs::listing
