// CollectingSink: a RangeSink for unit tests that keeps the body it gets and how it ended, and
// fails the test if bytes arrive after OnDone.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "rangefs/range_source.h"
#include "rangefs/status.h"

namespace rangefs::fakes {

class CollectingSink final : public RangeSink {
 public:
  bool OnData(std::span<const std::byte> data) override {
    std::lock_guard lock(mu_);
    EXPECT_EQ(done_calls_, 0) << "OnData after OnDone";
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return true;
  }
  void OnDone(const Status& status) override {
    std::lock_guard lock(mu_);
    ++done_calls_;
    status_ = status;
  }
  std::vector<std::byte> bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  // How the last OnDone ended the body; empty before any.
  std::optional<Status> status() const {
    std::lock_guard lock(mu_);
    return status_;
  }
  int done_calls() const {
    std::lock_guard lock(mu_);
    return done_calls_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::byte> bytes_;  // Guarded by mu_
  std::optional<Status> status_;  // Guarded by mu_
  int done_calls_ = 0;            // Guarded by mu_
};

}  // namespace rangefs::fakes
