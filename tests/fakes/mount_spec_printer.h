// gtest printer for MountSpec (cli/mount_spec.h): `{name="a" url="https://h/a" file lazy
// mirrors=[https://m/a]}` instead of raw object bytes. Found by ADL.
#pragma once

#include <ostream>

#include "cli/mount_spec.h"

namespace rangefs {

inline void PrintTo(const MountSpec& spec, std::ostream* os) {
  *os << "{name=\"" << spec.name << "\" url=\"" << spec.url << "\" "
      << (spec.kind == SpecKind::kDirectory ? "directory" : "file")
      << (spec.probe_at_mount ? "" : " lazy");
  if (!spec.mirrors.empty()) {
    *os << " mirrors=[";
    for (size_t i = 0; i < spec.mirrors.size(); ++i) *os << (i ? " " : "") << spec.mirrors[i];
    *os << "]";
  }
  *os << "}";
}

}  // namespace rangefs
