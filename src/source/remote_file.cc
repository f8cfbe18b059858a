#include "rangefs/remote_file.h"

#include "rangefs/imf_date.h"

namespace rangefs {

bool SameVersion(const RemoteFileInfo& a, const RemoteFileInfo& b) {
  return a.size == b.size && a.etag == b.etag && a.last_modified == b.last_modified;
}

std::string DescribeVersion(const RemoteFileInfo& info) {
  std::string text;
  if (!info.etag.empty()) text += "ETag " + info.etag + ", ";
  if (info.last_modified) {
    text += "Last-Modified " + FormatImfDate(*info.last_modified) + ", ";
  }
  return text + std::to_string(info.size) + " bytes";
}

}  // namespace rangefs
