// FakeVersionRegistry: a VersionRegistry for unit tests of readers. Every version is current
// until the test calls Replace with it; reports of changes are counted.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>

#include "rangefs/file_version.h"

namespace rangefs::fakes {

class FakeVersionRegistry : public VersionRegistry {
 public:
  void Replace(const FileVersion& version) {
    std::lock_guard lock(mu_);
    replaced_.insert(&version);
  }
  size_t reports() const {
    std::lock_guard lock(mu_);
    return reports_;
  }

  bool IsCurrent(const FileVersion& version) const override {
    std::lock_guard lock(mu_);
    return !replaced_.contains(&version);
  }
  void ReportChanged(const FileVersion&, const Status&) override {
    std::lock_guard lock(mu_);
    ++reports_;
  }

 private:
  mutable std::mutex mu_;
  std::set<const FileVersion*> replaced_;  // Guarded by mu_
  size_t reports_ = 0;                     // Guarded by mu_
};

}  // namespace rangefs::fakes
