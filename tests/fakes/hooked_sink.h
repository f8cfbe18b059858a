// HookedSink: a sink that collects its body like CollectingSink and runs a test's hook in each
// callback, for tests of callers that must hold no lock across a callback: a hook may call back
// into the source that calls it, or wait until another thread has acted.
//
// The OnData hook runs before the bytes are recorded; the OnDone hook after the end is.
//
// Thread-safety: as CollectingSink; the hooks are set at construction and run on whichever
// thread calls the sink.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <utility>

#include "fakes/collecting_sink.h"
#include "rangefs/range_source.h"
#include "rangefs/status.h"

namespace rangefs::fakes {

class HookedSink final : public RangeSink {
 public:
  explicit HookedSink(std::function<void()> on_data,
                      std::function<void(const Status&)> on_done = {})
      : on_data_(std::move(on_data)), on_done_(std::move(on_done)) {}

  bool OnData(std::span<const std::byte> data) override {
    if (on_data_) on_data_();
    return collected_.OnData(data);
  }
  void OnDone(const Status& status) override {
    collected_.OnDone(status);
    if (on_done_) on_done_(status);
  }
  // What arrived: the bytes, the end, how many ends.
  const CollectingSink& collected() const { return collected_; }

 private:
  const std::function<void()> on_data_;
  const std::function<void(const Status&)> on_done_;
  CollectingSink collected_;
};

}  // namespace rangefs::fakes
