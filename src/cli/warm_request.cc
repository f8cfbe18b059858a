#include "cli/warm_request.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace rangefs {

RequestState::RequestState(std::vector<std::shared_ptr<Block>> blocks)
    : blocks_(std::move(blocks)) {
  for (const auto& block : blocks_) total_ += block->size();
}

bool RequestState::Append(std::span<const std::byte> data) {
  while (!data.empty()) {
    if (block_ == blocks_.size()) return false;  // more than asked for
    const std::span<std::byte> room = blocks_[block_]->mutable_bytes().subspan(offset_);
    const size_t n = std::min(room.size(), data.size());
    std::memcpy(room.data(), data.data(), n);
    data = data.subspan(n);
    offset_ += n;
    received_ += n;
    if (offset_ == blocks_[block_]->size()) {
      ++block_;
      offset_ = 0;
    }
  }
  return true;
}

void RequestState::End(const Status& status) {
  {
    std::lock_guard lock(mu_);
    if (done_) return;
    done_ = true;
    result_ = status.ok() && received_ != total_
                  ? Status(ErrorCode::kProtocolViolation, "the answer ended early")
                  : status;
  }
  ended_.notify_all();
}

std::optional<Status> RequestState::Wait(std::stop_token stop) {
  std::unique_lock lock(mu_);
  if (!ended_.wait(lock, stop, [this] { return done_; })) return std::nullopt;
  return result_;
}

}  // namespace rangefs
