#include "fuse/kernel_readahead.h"

#include <fstream>
#include <sstream>
#include <string_view>

namespace rangefs {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo (octal).
std::string UnescapeMountinfo(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string_view digits = field.substr(i + 1, 3);
      if (digits.find_first_not_of("01234567") == std::string_view::npos) {
        out +=
            static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

}  // namespace

bool RaiseKernelReadahead(const std::string& mountpoint, unsigned kib) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  std::string device;  // "major:minor" of the last matching mount: the newest one wins
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, major_minor, root, mount_path;
    if (!(fields >> id >> parent >> major_minor >> root >> mount_path)) continue;
    if (UnescapeMountinfo(mount_path) == mountpoint) device = major_minor;
  }
  if (device.empty()) return false;
  std::ofstream knob("/sys/class/bdi/" + device + "/read_ahead_kb");
  if (!knob) return false;
  knob << kib << '\n';
  knob.flush();
  return static_cast<bool>(knob);
}

}  // namespace rangefs
