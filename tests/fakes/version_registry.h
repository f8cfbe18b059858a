// FakeVersionRegistry: a VersionRegistry for unit tests of readers. Every version is current
// until the test calls Replace with it; reports of changes are counted, and with
// ConfirmReports(true) a report replaces its version (the filesystem's probe found the change;
// without it, the probe found the same version: a false alarm).
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
  void ConfirmReports(bool confirm) {
    std::lock_guard lock(mu_);
    confirm_ = confirm;
  }
  size_t reports() const {
    std::lock_guard lock(mu_);
    return reports_;
  }

  bool IsCurrent(const FileVersion& version) const override {
    std::lock_guard lock(mu_);
    return !replaced_.contains(&version);
  }
  void ReportChanged(const FileVersion& version, const Status&) override {
    std::lock_guard lock(mu_);
    ++reports_;
    if (confirm_) replaced_.insert(&version);
  }

 private:
  mutable std::mutex mu_;
  std::set<const FileVersion*> replaced_;  // Guarded by mu_
  size_t reports_ = 0;                     // Guarded by mu_
  bool confirm_ = false;                   // Guarded by mu_
};

}  // namespace rangefs::fakes
