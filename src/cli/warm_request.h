// RequestState and RequestSink: what one range request of rangefs warm and the worker waiting
// for it share, the blocks it fills and how it ended. The sink may outlive the worker's wait (a
// stop abandons the wait, and the source ends the transfer later), so neither owns the other.
//
// Thread-safety: Append is called by one delivering thread at a time, before End; Wait by the
// worker; End by either (the first call counts).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <vector>

#include "rangefs/block.h"
#include "rangefs/range_source.h"
#include "rangefs/status.h"

namespace rangefs {

class RequestState {
 public:
  explicit RequestState(std::vector<std::shared_ptr<Block>> blocks);

  // The next bytes of the answer; false when they are more than the blocks hold.
  bool Append(std::span<const std::byte> data);
  // How the request ended; an ok end with bytes missing is a protocol violation.
  void End(const Status& status);
  // How the request ended, once it has; empty when `stop` came first.
  std::optional<Status> Wait(std::stop_token stop);

  const std::vector<std::shared_ptr<Block>>& blocks() const { return blocks_; }

 private:
  const std::vector<std::shared_ptr<Block>> blocks_;
  uint64_t total_ = 0;
  // Written by the delivering thread before End; read after Wait returns.
  size_t block_ = 0;
  size_t offset_ = 0;
  uint64_t received_ = 0;

  std::mutex mu_;
  std::condition_variable_any ended_;
  bool done_ = false;  // Guarded by mu_
  Status result_;      // Guarded by mu_
};

class RequestSink final : public RangeSink {
 public:
  explicit RequestSink(std::shared_ptr<RequestState> state) : state_(std::move(state)) {}
  // A source that dropped the request without OnDone must not leave the worker waiting.
  ~RequestSink() override { state_->End(Status(ErrorCode::kInternal, "range request abandoned")); }
  bool OnData(std::span<const std::byte> data) override { return state_->Append(data); }
  void OnDone(const Status& status) override { state_->End(status); }

 private:
  const std::shared_ptr<RequestState> state_;
};

}  // namespace rangefs
